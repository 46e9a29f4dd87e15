using Grace.Data.Entities;

namespace Grace.Engine.Capture;

/// <summary>One error or alert reported to Grace.</summary>
/// <param name="Source">Who reported it: a logger category, a service name.</param>
/// <param name="Message">The rendered message.</param>
/// <param name="Severity">How bad it is.</param>
/// <param name="Timestamp">When it happened.</param>
/// <param name="MessageTemplate">The structured template (Serilog), when the source has one: the best fingerprint.</param>
/// <param name="ExceptionType">Full name of the exception type, if any.</param>
/// <param name="Target">The configured target it concerns, if the reporter knows.</param>
/// <param name="Labels">Free labels (service, environment, alertname).</param>
/// <param name="ReportedBy">The user or key that reported it over HTTP; "engine" in-process.</param>
/// <param name="Resolved">The source says the problem is over (an Alertmanager "resolved"): the incident resolves.</param>
public sealed record Signal(
    string Source,
    string Message,
    Severity Severity,
    DateTimeOffset Timestamp,
    string? MessageTemplate = null,
    string? ExceptionType = null,
    string? Target = null,
    IReadOnlyDictionary<string, string>? Labels = null,
    string? ReportedBy = null,
    bool Resolved = false);
