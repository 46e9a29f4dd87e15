using Docker.DotNet;
using Docker.DotNet.Models;

namespace Grace.Tests.Infrastructure;

/// <summary>
/// The real container engines the test command starts (see scripts/test.sh): a dockerd and a Podman
/// API service, each on its own unix socket, with an image built offline from busybox-static. Tests
/// create their own containers, with names of their own, and remove them.
/// </summary>
public sealed class TestEngine : IAsyncDisposable
{
    private readonly List<string> _created = [];

    private TestEngine(string name, string endpoint)
    {
        Name = name;
        Endpoint = endpoint;
        Client = new DockerClientBuilder().WithEndpoint(new Uri(endpoint)).WithApiVersion(new System.Version(1, 41)).Build();
    }

    /// <summary>"docker" or "podman".</summary>
    public string Name { get; }

    /// <summary>The engine's endpoint, as a Container target names it (<c>unix:///...</c>).</summary>
    public string Endpoint { get; }

    public DockerClient Client { get; }

    /// <summary>The busybox image on both engines.</summary>
    public static string Image => Env("GRACE_TEST_IMAGE");

    public static TestEngine Docker() => new("docker", Env("GRACE_TEST_DOCKER"));

    public static TestEngine Podman() => new("podman", Env("GRACE_TEST_PODMAN"));

    public static TestEngine Of(string name) => name == "podman" ? Podman() : Docker();

    private static string Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
        ? value
        : throw new InvalidOperationException($"{name} is not set: run the tests with `bash scripts/test.sh`, which starts dockerd and Podman for them.");

    /// <summary>A shell loop that ends on SIGTERM at once (a shell as PID 1 ignores it otherwise).</summary>
    public const string Idle = "trap 'exit 0' TERM; while true; do sleep 0.2; done";

    /// <summary>Creates and starts a container running <paramref name="script"/> under /bin/sh; returns its name.</summary>
    public async Task<string> RunAsync(string script, string? restartPolicy = null, HealthcheckConfig? health = null, bool start = true, long? memoryBytes = null)
    {
        var name = $"grace-test-{Guid.NewGuid():N}"[..24];
        var parameters = new CreateContainerParameters
        {
            Name = name,
            Image = Image,
            Cmd = ["/bin/sh", "-c", script],
            HostConfig = new HostConfig
            {
                NetworkMode = "none",
                Memory = memoryBytes ?? 0,
                MemorySwap = memoryBytes ?? 0,
                RestartPolicy = restartPolicy is null ? new RestartPolicy { Name = RestartPolicyKind.No } : new RestartPolicy
                {
                    Name = restartPolicy.StartsWith("on-failure", StringComparison.Ordinal) ? RestartPolicyKind.OnFailure : RestartPolicyKind.Always,
                    MaximumRetryCount = restartPolicy.Contains(':', StringComparison.Ordinal) ? long.Parse(restartPolicy.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture) : 0,
                },
            },
        };
        if (health is not null)
        {
            parameters.Healthcheck = health;
        }

        await Client.Containers.CreateContainerAsync(parameters);
        _created.Add(name);
        if (start)
        {
            await Client.Containers.StartContainerAsync(name, new ContainerStartParameters());
        }

        return name;
    }

    public Task<ContainerInspectResponse> InspectAsync(string name) => Client.Containers.InspectContainerAsync(name);

    /// <summary>Polls the container until <paramref name="condition"/> holds, or fails saying what it was.</summary>
    public async Task<ContainerInspectResponse> WaitAsync(string name, Func<ContainerInspectResponse, bool> condition, string what, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            var c = await InspectAsync(name);
            if (condition(c))
            {
                return c;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new Xunit.Sdk.XunitException($"Container {name} on {Name} did not become {what} within {seconds} s: {c.State?.Status}, exit {c.State?.ExitCode}, health {c.State?.Health?.Status}, restarts {c.RestartCount}.");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>Settings of a Container target for this engine.</summary>
    public Dictionary<string, string?> Target(string key, string container) => new()
    {
        [$"Grace:Targets:{key}:Kind"] = "Container",
        [$"Grace:Targets:{key}:Endpoint"] = Endpoint,
        [$"Grace:Targets:{key}:Container"] = container,
    };

    public async ValueTask DisposeAsync()
    {
        foreach (var name in _created)
        {
            try
            {
                await Client.Containers.RemoveContainerAsync(name, new ContainerRemoveParameters { Force = true });
            }
            catch (DockerApiException)
            {
            }
        }

        Client.Dispose();
    }
}
