namespace Grace.Engine.Capture;

/// <summary>
/// The sources Grace's own observers report under. Playbooks trust them (a <c>process:</c> signal
/// restarts a process), so nobody outside the process may claim them: the HTTP API refuses them
/// from every caller, whatever the key's scopes.
/// </summary>
public static class SignalSources
{
    /// <summary>The process supervisor: a supervised process exited.</summary>
    public const string Process = "process:";

    /// <summary>The health checker: a target's health check failed or passes again.</summary>
    public const string Health = "health:";

    /// <summary>The container event watcher: a container died, ran out of memory, turned unhealthy.</summary>
    public const string Container = "container:";

    /// <summary>The Kubernetes event watcher: a pod crash-looping, evicted, killed for memory, failing to pull its image.</summary>
    public const string Kubernetes = "kubernetes:";

    /// <summary>Grace's own log (its logger categories start with <c>Grace.</c>; <c>Grace</c> when a log event has none).</summary>
    public const string GraceLog = "Grace.";

    /// <summary>The prefixes every Grace reserves, whatever its configuration.</summary>
    public static IReadOnlyList<string> BuiltIn { get; } = [Process, Health, Container, Kubernetes, GraceLog];

    /// <summary>
    /// The reserved prefix a source claims, or null when the source is free to use. Compared as the
    /// catalog's patterns compare sources: a prefix, ignoring case.
    /// </summary>
    public static string? ReservedPrefix(string source, IEnumerable<string> extra)
    {
        if (string.Equals(source.Trim(), "Grace", StringComparison.OrdinalIgnoreCase))
        {
            return "Grace";
        }

        foreach (var prefix in BuiltIn.Concat(extra))
        {
            if (source.TrimStart().StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                return prefix;
            }
        }

        return null;
    }
}
