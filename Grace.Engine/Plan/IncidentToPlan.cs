using System.Text.Json;
using Grace.Data.Entities;
using Grace.Engine.Capture;

namespace Grace.Engine.Plan;

/// <summary>
/// What planning needs of an incident marked for a mission, as the transaction that marked it
/// committed it. Capture hands it over so planning does not read the incident back (ADR 0036: one
/// read less on the way to a tier-0 action). The planner's own read of the incident, in the
/// transaction that writes the mission, still decides whether it is planned (the mark, the status).
/// </summary>
public sealed record IncidentToPlan(
    Guid Id,
    string Fingerprint,
    string Source,
    string SampleMessage,
    Severity Severity,
    DateTimeOffset LastSeenAt,
    string Template,
    string? ExceptionType,
    string? Target,
    string? Labels,
    string? OpenedBy,
    string? NextPlaybookKey)
{
    public static IncidentToPlan Of(Incident incident) => new(
        incident.Id, incident.Fingerprint, incident.Source, incident.SampleMessage, incident.Severity, incident.LastSeenAt, incident.Template,
        incident.ExceptionType, incident.Target, incident.Labels, incident.OpenedBy, incident.NextPlaybookKey);

    /// <summary>The incident as the signal that opened it, for diagnosis (patterns match source, type, message, template, labels).</summary>
    public Signal ToSignal() => new(
        Source, SampleMessage, Severity, LastSeenAt, Template, ExceptionType, Target,
        Labels is { Length: > 0 } labels ? JsonSerializer.Deserialize<Dictionary<string, string>>(labels) : null, OpenedBy);
}
