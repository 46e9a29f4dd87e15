using System.Diagnostics;
using Grace.Data.Entities;

namespace Grace.Engine.Telemetry;

/// <summary>
/// One trace per mission. A mission's stages run in different grain calls, on whichever instance
/// holds the grain, possibly after a restart: no <see cref="Activity"/> can stay open across them.
/// So the trace context is stored on the mission (<see cref="Mission.TraceParent"/>, W3C format),
/// and each stage's span is written when the stage ends, as a child of that context, with the
/// stage's real start (<see cref="Mission.StageStartedAt"/>) and end. See ADR draft-own-telemetry.
/// </summary>
public static class MissionTracing
{
    /// <summary>Span names, as people read them on a trace.</summary>
    public static string NameOf(PipelineStage stage) => stage switch
    {
        PipelineStage.Capture => "capture",
        PipelineStage.Diagnose => "diagnose",
        PipelineStage.Plan => "plan",
        PipelineStage.Gate => "gate",
        PipelineStage.Snapshot => "snapshot",
        PipelineStage.Execute => "act",
        PipelineStage.Verify => "verify",
        PipelineStage.Rollback => "rollback",
        PipelineStage.Learn => "learn",
        _ => stage.ToString().ToLowerInvariant(),
    };

    /// <summary>
    /// Starts the mission's trace when it is planned: a root span "mission" from the incident's
    /// episode start to now, with the capture and diagnosis spans under it (their times are known
    /// by then), and stores the root's context on the mission. Nothing is written when no listener
    /// samples the source (telemetry off): the mission keeps no trace context then.
    /// </summary>
    public static void Begin(Mission mission, Incident incident, DateTimeOffset? diagnosedFrom, DateTimeOffset now)
    {
        if (!GraceMetrics.ActivitySource.HasListeners())
        {
            return;
        }

        // A new trace, whatever the caller's activity (a request, a grain call): the mission outlives it.
        var previous = Activity.Current;
        Activity.Current = null;
        try
        {
            var start = incident.OpenedAt > now ? now : incident.OpenedAt;
            using var root = GraceMetrics.ActivitySource.StartActivity("mission", ActivityKind.Internal, default(ActivityContext), TagsOf(mission), startTime: start);
            if (root is null)
            {
                return;
            }

            mission.TraceParent = root.Id;
            var diagnose = diagnosedFrom is { } d && d >= start && d <= now ? d : now;
            Write(root.Context, PipelineStage.Capture, mission, start, diagnose, null);
            Write(root.Context, PipelineStage.Diagnose, mission, diagnose, now, null);
            root.SetEndTime(now.UtcDateTime);
        }
        finally
        {
            Activity.Current = previous;
        }
    }

    /// <summary>Writes one ended stage's span under the mission's trace (nothing when the mission has none).</summary>
    public static void Write(Mission mission, PipelineStage stage, DateTimeOffset start, DateTimeOffset end, string? outcome)
    {
        if (mission.TraceParent is { } parent && ActivityContext.TryParse(parent, null, out var context))
        {
            var previous = Activity.Current;
            Activity.Current = null;
            try
            {
                Write(context, stage, mission, start, end, outcome);
            }
            finally
            {
                Activity.Current = previous;
            }
        }
    }

    private static void Write(ActivityContext parent, PipelineStage stage, Mission mission, DateTimeOffset start, DateTimeOffset end, string? outcome)
    {
        var tags = TagsOf(mission);
        tags.Add(new("grace.stage", NameOf(stage)));
        if (outcome is not null)
        {
            tags.Add(new("grace.outcome", outcome));
        }

        using var span = GraceMetrics.ActivitySource.StartActivity(NameOf(stage), ActivityKind.Internal, parent, tags, startTime: start);
        if (span is null)
        {
            return;
        }

        if (outcome is nameof(MissionState.Failed) or nameof(MissionState.RolledBack))
        {
            span.SetStatus(ActivityStatusCode.Error, mission.StatusReason);
        }

        span.SetEndTime((end < start ? start : end).UtcDateTime);
    }

    private static List<KeyValuePair<string, object?>> TagsOf(Mission mission) =>
    [
        new("grace.incident.id", mission.IncidentId.ToString()),
        new("grace.mission.id", mission.Id.ToString()),
        new("grace.playbook", mission.PlaybookKey),
        new("grace.pattern", mission.PatternKey),
        new("grace.target", mission.Target),
        new("grace.action", mission.Action),
        new("grace.tier", mission.Tier),
    ];
}
