using System.Text.RegularExpressions;
using Amazon.Runtime.CredentialManagement;
using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Verify;
using Microsoft.Extensions.DependencyInjection;

namespace Grace.Engine.Adapters.Aws;

/// <summary>
/// Where and as whom Grace calls AWS for a target: its region, an optional endpoint (a test server,
/// a compatible cloud) and an optional named profile. Credentials are never configured here: they
/// come from the standard chain (environment, shared files, SSO, container or instance role), so no
/// secret sits in Grace's configuration, its snapshots or its pages.
/// </summary>
public sealed record AwsConnection(string Region, Uri? Endpoint, string? Profile)
{
    /// <summary>Where the calls go, as people read it.</summary>
    public string Where => Endpoint is { } endpoint ? $"{endpoint.GetLeftPart(UriPartial.Authority)} ({Region})" : Region;
}

/// <summary>The settings of an Ec2Instance target.</summary>
public sealed record Ec2InstanceTarget(AwsConnection Aws, string InstanceId);

/// <summary>The settings of an AutoScalingGroup target.</summary>
public sealed record AutoScalingGroupTarget(AwsConnection Aws, string GroupName);

/// <summary>What every AWS target declares: <c>Region</c>, and optionally <c>Endpoint</c> and <c>Profile</c>.</summary>
public abstract class AwsOptions
{
    /// <summary>The region's name (<c>eu-west-1</c>).</summary>
    public string? Region { get; set; }

    /// <summary>An endpoint to call instead of AWS's own (a test server, an AWS-compatible cloud).</summary>
    public string? Endpoint { get; set; }

    /// <summary>A profile of the shared credentials or config file; without it, the standard chain decides.</summary>
    public string? Profile { get; set; }

    // Bound only to be refused: keys written into Grace's configuration would sit in plain text in a
    // file that is copied, diffed and shown around; the standard chain keeps them where AWS tools do.
    public string? AccessKeyId { get; set; }

    public string? SecretAccessKey { get; set; }

    public string? SessionToken { get; set; }
}

/// <summary>
/// The part every AWS kind shares: reading <c>Region</c>, <c>Endpoint</c> and <c>Profile</c>, and
/// which failures are worth a retry (throttling, AWS's own 5xx, a connection that failed).
/// </summary>
public abstract partial class AwsKind<TOptions> : TargetKindAdapter<TOptions> where TOptions : AwsOptions, new()
{
    // Region names as AWS forms them: us-east-1, ap-southeast-7, us-gov-west-1, eu-isoe-west-1.
    [GeneratedRegex("^[a-z]{2,}(-[a-z]+)+-[0-9]+$")]
    private static partial Regex RegionName();

    /// <summary>The connection, or the faults of its settings (each "Setting message").</summary>
    protected static (AwsConnection? Connection, List<string> Faults) Connection(TOptions options)
    {
        var faults = new List<string>();
        foreach (var (name, value) in new[] { ("AccessKeyId", options.AccessKeyId), ("SecretAccessKey", options.SecretAccessKey), ("SessionToken", options.SessionToken) })
        {
            if (!string.IsNullOrEmpty(value))
            {
                // The value is never repeated: it is a secret that should not have been written here.
                faults.Add($"{name} is set, and Grace never reads AWS credentials from its configuration: remove it and give them through the standard chain "
                    + "(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in Grace's environment, a Profile of the shared credentials file, SSO, or a container or instance role).");
            }
        }

        Uri? endpoint = null;
        if (options.Endpoint is { Length: > 0 } text
            && (!Uri.TryCreate(text, UriKind.Absolute, out endpoint) || endpoint.Scheme is not ("http" or "https")))
        {
            faults.Add($"Endpoint '{text}' is not an absolute http or https URL.");
        }

        // A compatible cloud may name its regions its own way; AWS itself only takes its own names.
        if (options.Region is { Length: > 0 } region && endpoint is null && !RegionName().IsMatch(region))
        {
            faults.Add($"Region '{region}' is not an AWS region name (such as us-east-1).");
        }

        if (options.Profile is { Length: > 0 } profile && !new CredentialProfileStoreChain().TryGetProfile(profile, out _))
        {
            faults.Add($"Profile '{profile}' is in neither the shared credentials file nor the shared config file of the user Grace runs as.");
        }

        return string.IsNullOrWhiteSpace(options.Region) || faults.Count > 0
            ? (null, faults)
            : (new AwsConnection(options.Region, endpoint, string.IsNullOrWhiteSpace(options.Profile) ? null : options.Profile), faults);
    }

    public override bool IsTransient(Exception exception) => AwsErrors.IsTransient(exception);
}

/// <summary>
/// An EC2 instance (<c>Region</c>, <c>InstanceId</c>; optionally <c>Endpoint</c>, <c>Profile</c>).
/// Any instance can act on it: it is not bound to the machine Grace runs on.
/// </summary>
public sealed partial class Ec2InstanceKind : AwsKind<Ec2InstanceKind.Options>
{
    public static readonly TargetKind Id = new("Ec2Instance");

    public override TargetKind Kind => Id;

    [GeneratedRegex("^i-[0-9a-f]{8}([0-9a-f]{9})?$")]
    private static partial Regex InstanceIdPattern();

    protected override TargetSettings Resolve(string key, Options options)
    {
        var (connection, faults) = Connection(options);
        if (options.InstanceId is { Length: > 0 } id && !InstanceIdPattern().IsMatch(id))
        {
            faults.Add($"InstanceId '{id}' is not an EC2 instance id (i- and 8 or 17 hexadecimal digits).");
        }

        if (faults.Count > 0)
        {
            return new TargetSettings(null, Problems: faults);
        }

        if (string.IsNullOrWhiteSpace(options.Region))
        {
            return TargetSettings.Without("Region", "is required for an Ec2Instance target (such as eu-west-1)");
        }

        return string.IsNullOrWhiteSpace(options.InstanceId)
            ? TargetSettings.Without("InstanceId", "is required for an Ec2Instance target (such as i-0123456789abcdef0)")
            : TargetSettings.Of(new Ec2InstanceTarget(connection!, options.InstanceId));
    }

    /// <summary><c>Grace:Targets:&lt;key&gt;</c> of an Ec2Instance target.</summary>
    public sealed class Options : AwsOptions
    {
        public string? InstanceId { get; set; }
    }
}

/// <summary>An EC2 Auto Scaling group (<c>Region</c>, <c>GroupName</c>; optionally <c>Endpoint</c>, <c>Profile</c>).</summary>
public sealed class AutoScalingGroupKind : AwsKind<AutoScalingGroupKind.Options>
{
    public static readonly TargetKind Id = new("AutoScalingGroup");

    public override TargetKind Kind => Id;

    protected override TargetSettings Resolve(string key, Options options)
    {
        var (connection, faults) = Connection(options);
        if (options.GroupName is { Length: > 255 })
        {
            faults.Add("GroupName is longer than the 255 characters AWS allows.");
        }

        if (faults.Count > 0)
        {
            return new TargetSettings(null, Problems: faults);
        }

        if (string.IsNullOrWhiteSpace(options.Region))
        {
            return TargetSettings.Without("Region", "is required for an AutoScalingGroup target (such as eu-west-1)");
        }

        return string.IsNullOrWhiteSpace(options.GroupName)
            ? TargetSettings.Without("GroupName", "is required for an AutoScalingGroup target (the Auto Scaling group's name)")
            : TargetSettings.Of(new AutoScalingGroupTarget(connection!, options.GroupName));
    }

    /// <summary><c>Grace:Targets:&lt;key&gt;</c> of an AutoScalingGroup target.</summary>
    public sealed class Options : AwsOptions
    {
        public string? GroupName { get; set; }
    }
}

public static class AwsTargetsExtensions
{
    /// <summary>
    /// The AWS kinds: EC2 instances (reboot, stop, start; their state) and Auto Scaling groups (set
    /// the desired capacity; in-service count and desired capacity), on the credentials of the
    /// standard chain.
    /// </summary>
    public static IServiceCollection AddAwsTargets(this IServiceCollection services)
    {
        services.AddSingleton<ITargetKindAdapter, Ec2InstanceKind>();
        services.AddSingleton<ITargetKindAdapter, AutoScalingGroupKind>();
        // Redirects are never followed: a signed request must not be replayed to another address.
        services.AddHttpClient(AwsClients.HttpClientName, c => c.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AllowAutoRedirect = false, ConnectTimeout = AwsClients.ReadLimit });
        services.AddSingleton<AwsClients>();
        services.AddSingleton<IRemediationExecutor, Ec2RebootAction>();
        services.AddSingleton<IRemediationExecutor, Ec2StopAction>();
        services.AddSingleton<IRemediationExecutor, Ec2StartAction>();
        services.AddSingleton<IRemediationExecutor, SetDesiredCapacityAction>();
        services.AddSingleton<IProbe, Ec2InstanceStateProbe>();
        services.AddSingleton<IProbe, InServiceProbe>();
        services.AddSingleton<IProbe, DesiredCapacityProbe>();
        return services;
    }
}
