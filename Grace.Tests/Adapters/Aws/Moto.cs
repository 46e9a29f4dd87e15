using System.Globalization;
using Amazon;
using Amazon.EC2;
using Amazon.EC2.Model;
using Amazon.Runtime;
using Amazon.Runtime.Signing;
using Grace.Engine.Adapters.Aws;
using Grace.Engine.Configuration;
using Grace.Engine.Targets;

namespace Grace.Tests.Adapters.Aws;

/// <summary>
/// The moto AWS server scripts/test.sh starts on loopback (<c>GRACE_TEST_MOTO</c>), with the test
/// credentials it exports as the standard chain's environment variables. Each test makes its own
/// instances and groups, so tests never share state on the server.
/// </summary>
public static class Moto
{
    public const string Region = "us-east-1";

    /// <summary>An image moto ships, to launch instances from.</summary>
    private const string ImageId = "ami-12c6146b";

    private static string Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
        ? value
        : throw new InvalidOperationException($"{name} is not set: run the tests with `bash scripts/test.sh`, which starts the moto AWS server and exports the test credentials.");

    public static Uri Url => new(Env("GRACE_TEST_MOTO"));

    /// <summary>The AWS secret key of the standard chain (the test one): it must never show anywhere.</summary>
    public static string SecretKey => Env("AWS_SECRET_ACCESS_KEY");

    public static AwsConnection Connection => new(Region, Url, null);

    /// <summary>The adapter's clients as the host makes them, polling fast (moto changes states at once).</summary>
    public static AwsClients Clients() => new(new PlainHttpClients(), TimeProvider.System) { PollInterval = TimeSpan.FromMilliseconds(100) };

    public static ResolvedTarget Instance(string key, string instanceId, Uri? endpoint = null) =>
        Of(key, Ec2InstanceKind.Id, new Ec2InstanceTarget(new AwsConnection(Region, endpoint ?? Url, null), instanceId));

    public static ResolvedTarget Group(string key, string groupName, Uri? endpoint = null) =>
        Of(key, AutoScalingGroupKind.Id, new AutoScalingGroupTarget(new AwsConnection(Region, endpoint ?? Url, null), groupName));

    private static ResolvedTarget Of(string key, TargetKind kind, object settings) => new(key, kind, null, new TargetOptions { Kind = kind }, settings);

    /// <summary>A loopback endpoint nothing listens on.</summary>
    public static Uri Nowhere() => new($"http://127.0.0.1:{Infrastructure.TestCatalog.FreeLoopbackPort()}/");

    private static AmazonEC2Client Ec2() => new(new AmazonEC2Config { ServiceURL = Url.ToString(), AuthenticationRegion = Region, MaxErrorRetry = 0 });

    /// <summary>Launches a running instance on moto; returns its id.</summary>
    public static async Task<string> RunInstanceAsync()
    {
        using var ec2 = Ec2();
        var run = await ec2.RunInstancesAsync(new RunInstancesRequest { ImageId = ImageId, InstanceType = InstanceType.T3Micro, MinCount = 1, MaxCount = 1 });
        return run.Reservation.Instances[0].InstanceId;
    }

    /// <summary>Stops an instance behind Grace's back.</summary>
    public static async Task StopInstanceAsync(string instanceId)
    {
        using var ec2 = Ec2();
        await ec2.StopInstancesAsync(new StopInstancesRequest { InstanceIds = [instanceId] });
    }

    /// <summary>Makes an Auto Scaling group (and its launch configuration) on moto; returns its name.</summary>
    public static async Task<string> CreateGroupAsync(int min, int max, int desired)
    {
        var name = $"grace-{Guid.NewGuid():N}"[..20];
        await QueryAsync("CreateLaunchConfiguration", ("LaunchConfigurationName", name), ("ImageId", ImageId), ("InstanceType", "t3.micro"));
        await QueryAsync("CreateAutoScalingGroup", ("AutoScalingGroupName", name), ("LaunchConfigurationName", name),
            ("MinSize", Text(min)), ("MaxSize", Text(max)), ("DesiredCapacity", Text(desired)), ("AvailabilityZones.member.1", Region + "a"));
        return name;
    }

    /// <summary>Changes a group's desired capacity behind Grace's back.</summary>
    public static Task SetDesiredAsync(string group, int desired) =>
        QueryAsync("SetDesiredCapacity", ("AutoScalingGroupName", group), ("DesiredCapacity", Text(desired)));

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>One Auto Scaling query call, signed with AWSSDK.Core's signer as the adapter signs its own.</summary>
    private static async Task QueryAsync(string action, params (string Name, string Value)[] parameters)
    {
        using var form = new FormUrlEncodedContent([new("Action", action), new("Version", "2011-01-01"), .. parameters.Select(p => new KeyValuePair<string, string>(p.Name, p.Value))]);
        var body = await form.ReadAsByteArrayAsync();
        var signed = await AWSSigV4Signer.SignAsync(new AWSSigningRequest { HttpMethod = HttpMethod.Post, RequestUri = Url, Content = body },
            new AWSSigV4Parameters { Credentials = new BasicAWSCredentials(Env("AWS_ACCESS_KEY_ID"), SecretKey), Region = RegionEndpoint.GetBySystemName(Region), Service = "autoscaling" });
        using var request = new HttpRequestMessage(HttpMethod.Post, Url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/x-www-form-urlencoded");
        foreach (var (name, value) in signed.Headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        using var http = new HttpClient();
        using var response = await http.SendAsync(request);
        Assert.True(response.IsSuccessStatusCode, $"moto refused {action}: {await response.Content.ReadAsStringAsync()}");
    }

    /// <summary>HTTP clients as the host's factory makes the "grace-aws" one: no redirects.</summary>
    private sealed class PlainHttpClients : IHttpClientFactory
    {
        public HttpClient CreateClient(string name) => new(new SocketsHttpHandler { AllowAutoRedirect = false, ConnectTimeout = AwsClients.ReadLimit });
    }
}
