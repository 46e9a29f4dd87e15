using System.Collections.Concurrent;
using Amazon;
using Amazon.EC2;
using Amazon.Runtime;
using Amazon.Runtime.Credentials;

namespace Grace.Engine.Adapters.Aws;

/// <summary>
/// The AWS clients of each connection (region, endpoint, profile), made once and kept: the
/// credentials the standard chain found, an EC2 client, and the signed Auto Scaling query calls.
/// Every call has its own time limit, short enough that a snapshot or a probe (10 s in all) fails
/// with this call's own words rather than Grace's timeout; retries are Grace's (its action and
/// probe pipelines), so the SDK's own are off and a retry never multiplies with another.
/// </summary>
public sealed class AwsClients(IHttpClientFactory httpFactory, TimeProvider time) : IDisposable
{
    /// <summary>The name of the HTTP client the Auto Scaling calls use.</summary>
    public const string HttpClientName = "grace-aws";

    /// <summary>The longest a read (Describe...) may take: AWS answers these in well under a second.</summary>
    public static readonly TimeSpan ReadLimit = TimeSpan.FromSeconds(4);

    /// <summary>The longest a change (Stop..., SetDesiredCapacity) may take to be accepted.</summary>
    public static readonly TimeSpan WriteLimit = TimeSpan.FromSeconds(15);

    private readonly ConcurrentDictionary<AwsConnection, Lazy<Task<Session>>> _sessions = new();

    /// <summary>Runs one EC2 call within <paramref name="limit"/>; a failure says which call, where, and why.</summary>
    public async Task<T> Ec2Async<T>(AwsConnection connection, string call, TimeSpan limit, Func<IAmazonEC2, CancellationToken, Task<T>> run, CancellationToken cancellationToken) =>
        await WithinAsync(connection, $"EC2 {call}", limit, async ct => await run((await SessionAsync(connection, ct)).Ec2, ct), cancellationToken);

    /// <summary>Runs one Auto Scaling call within <paramref name="limit"/>.</summary>
    public async Task<T> AutoScalingAsync<T>(AwsConnection connection, string call, TimeSpan limit, Func<AutoScalingApi, CancellationToken, Task<T>> run, CancellationToken cancellationToken) =>
        await WithinAsync(connection, $"Auto Scaling {call}", limit, async ct => await run((await SessionAsync(connection, ct)).AutoScaling, ct), cancellationToken);

    /// <summary>How long to wait between two readings of something AWS is still changing (an instance stopping).</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Waits <see cref="PollInterval"/> on Grace's clock.</summary>
    public Task PauseAsync(CancellationToken cancellationToken) => Task.Delay(PollInterval, time, cancellationToken);

    private async Task<T> WithinAsync<T>(AwsConnection connection, string call, TimeSpan limit, Func<CancellationToken, Task<T>> run, CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(limit, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        try
        {
            return await run(linked.Token);
        }
        catch (OperationCanceledException ex) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            // Not retried: a service that did not answer in time would most likely run into Grace's own
            // timeout on a retry, and that error could not say which call hung.
            throw new AwsCallException($"{call} got no answer from AWS at {connection.Where} within {limit.TotalSeconds:0} s.", transient: false, inner: ex);
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not Execute.ActionRefusedException)
        {
            throw AwsErrors.Explain(call, connection, ex);
        }
    }

    private async Task<Session> SessionAsync(AwsConnection connection, CancellationToken cancellationToken)
    {
        var lazy = _sessions.GetOrAdd(connection, c => new Lazy<Task<Session>>(() => CreateAsync(c)));
        try
        {
            return await lazy.Value.WaitAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Credentials may appear later (a role attached, a file written): the next call looks again.
            _sessions.TryRemove(new KeyValuePair<AwsConnection, Lazy<Task<Session>>>(connection, lazy));
            throw;
        }
    }

    private async Task<Session> CreateAsync(AwsConnection connection)
    {
        var config = new AmazonEC2Config
        {
            MaxErrorRetry = 0,
            ConnectTimeout = ReadLimit,
            Timeout = WriteLimit,
        };
        if (connection.Endpoint is { } endpoint)
        {
            config.ServiceURL = endpoint.ToString();
            config.AuthenticationRegion = connection.Region;
        }
        else
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(connection.Region);
        }

        if (connection.Profile is { } profile)
        {
            config.Profile = new Profile(profile);
        }

        AWSCredentials credentials;
        try
        {
            credentials = await DefaultAWSCredentialsIdentityResolver.GetCredentialsAsync(config);
        }
        catch (Exception ex) when (ex is AmazonClientException or AmazonServiceException or InvalidOperationException)
        {
            throw new AwsCallException(
                $"No AWS credentials were found for {connection.Where}"
                + (connection.Profile is { } p ? $" in profile '{p}'" : " in the standard chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, the shared files, SSO, a container or instance role)")
                + $": {ex.Message}", transient: false, inner: ex);
        }

        var ec2 = new AmazonEC2Client(credentials, config);
        var autoScaling = new AutoScalingApi(httpFactory, credentials, connection);
        return new Session(ec2, autoScaling);
    }

    public void Dispose()
    {
        foreach (var lazy in _sessions.Values.Where(l => l.IsValueCreated))
        {
            if (lazy.Value.IsCompletedSuccessfully)
            {
                lazy.Value.Result.Ec2.Dispose();
            }
        }

        _sessions.Clear();
    }

    private sealed record Session(AmazonEC2Client Ec2, AutoScalingApi AutoScaling);
}
