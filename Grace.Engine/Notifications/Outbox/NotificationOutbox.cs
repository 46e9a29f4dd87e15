using System.Text.Json;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Configuration;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Notifications.Outbox;

/// <summary>
/// Writes outbox rows into the caller's context, so that what to tell people is committed in the
/// same <c>SaveChanges</c> as the transition that causes it: never a transition without its
/// message, never a message for a transition that rolled back. Delivery happens later
/// (<see cref="NotificationDispatcher"/>).
/// </summary>
public sealed class NotificationOutbox(
    NotificationRouter router,
    IOptionsMonitor<NotificationOptions> options,
    IOptionsMonitor<AlertmanagerOptions> alertmanager,
    IOptionsMonitor<CatalogOptions> catalog,
    TimeProvider time,
    ILogger<NotificationOutbox> logger)
{
    /// <summary>The channel name of Alertmanager silence rows.</summary>
    public const string AlertmanagerChannel = "alertmanager";

    /// <summary>
    /// Adds what a mission's new state calls for: the routed notifications of an approval request, a
    /// tier-1 action, a failure, a rollback, an expiry or a block; and the Alertmanager silence of an
    /// alert the mission starts healing, or its expiry when the mission ends.
    /// </summary>
    internal async Task AddForMissionStateAsync(GraceDbContext db, Mission mission, MissionState state, string message, CancellationToken cancellationToken)
    {
        if (KindOf(mission, state) is { } kind)
        {
            var content = MissionContent(kind, mission, state, message);
            foreach (var channel in router.ChannelsFor(kind, mission.PatternKey, mission.Tier))
            {
                await AddAsync(db, kind, channel, $"{kind}:{mission.Id}:{channel}", mission.Id, mission.IncidentId, content, cancellationToken);
            }
        }

        if (state == MissionState.Planned)
        {
            await AddSilenceAsync(db, mission, cancellationToken);
        }
        else if (state.IsTerminal() && !string.IsNullOrWhiteSpace(alertmanager.CurrentValue.Url))
        {
            await AddSilenceExpiryAsync(db, mission, cancellationToken);
        }
    }

    /// <summary>
    /// Adds an "incident needs a human" notification to <paramref name="db"/>, routed like any other,
    /// to be committed with the caller's <c>SaveChanges</c>. <paramref name="occasion"/> tells this
    /// hand-over from a later one of the same incident (a repeat with the same occasion is not stored
    /// twice). Returns how many rows were added.
    /// </summary>
    public async Task<int> AddIncidentNeedsHumanAsync(GraceDbContext db, Incident incident, string reason, string occasion, int? tier = null, CancellationToken cancellationToken = default)
    {
        const NotificationKind kind = NotificationKind.IncidentNeedsHuman;
        var added = 0;
        var content = new NotificationContent
        {
            Kind = kind,
            Title = $"Needs a human: {Shorten(incident.SampleMessage, 120)}",
            Text = $"Grace could not heal the incident from {incident.Source} ({incident.Count} signals, pattern {incident.PatternKey ?? "none"}): {reason}",
            Link = Url("/incidents"),
            At = time.GetUtcNow(),
            IncidentId = incident.Id,
            PatternKey = incident.PatternKey,
            Target = incident.Target,
            Reason = reason,
        };
        foreach (var channel in router.ChannelsFor(kind, incident.PatternKey, tier))
        {
            added += await AddAsync(db, kind, channel, $"{kind}:{incident.Id}:{occasion}:{channel}", null, incident.Id, content, cancellationToken) ? 1 : 0;
        }

        return added;
    }

    /// <summary>Adds the routed notifications of a kill-switch change to <paramref name="db"/>.</summary>
    public async Task AddKillSwitchChangedAsync(GraceDbContext db, bool engaged, string by, string? reason, DateTimeOffset at, CancellationToken cancellationToken)
    {
        const NotificationKind kind = NotificationKind.KillSwitchChanged;
        var content = new NotificationContent
        {
            Kind = kind,
            Title = engaged ? $"Kill switch engaged by {by}" : $"Kill switch released by {by}",
            Text = (engaged ? "No action runs until a Lead or Admin releases it." : "Grace acts again.") + (string.IsNullOrWhiteSpace(reason) ? "" : $" Reason: {reason}"),
            Link = Url("/"),
            At = at,
            Reason = reason,
        };
        foreach (var channel in router.ChannelsFor(kind, null, null))
        {
            await AddAsync(db, kind, channel, $"{kind}:{at.UtcTicks}:{channel}", null, null, content, cancellationToken);
        }
    }

    /// <summary>
    /// Adds the routed notifications of trust decay to <paramref name="db"/>: a playbook whose tier was
    /// lowered on its record failed or rolled back (<paramref name="mission"/>), and its tier went back up.
    /// </summary>
    public async Task AddTrustRevokedAsync(GraceDbContext db, Mission mission, int fromTier, int toTier, string reason, CancellationToken cancellationToken)
    {
        const NotificationKind kind = NotificationKind.TrustRevoked;
        var missionLink = Url($"/missions/{mission.Id}");
        var content = new NotificationContent
        {
            Kind = kind,
            Title = $"Tier raised back to {toTier}: '{mission.PlaybookKey}' lost the trust it had earned",
            Text = reason,
            Link = missionLink,
            MissionLink = missionLink,
            At = time.GetUtcNow(),
            MissionId = mission.Id,
            IncidentId = mission.IncidentId,
            PatternKey = mission.PatternKey,
            PlaybookKey = mission.PlaybookKey,
            Target = mission.Target,
            Tier = toTier,
            State = mission.State,
            Reason = reason,
        };
        foreach (var channel in router.ChannelsFor(kind, mission.PatternKey, toTier))
        {
            await AddAsync(db, kind, channel, $"{kind}:{mission.Id}:{channel}", mission.Id, mission.IncidentId, content, cancellationToken);
        }
    }

    private static NotificationKind? KindOf(Mission mission, MissionState state) => state switch
    {
        MissionState.AwaitingApproval => NotificationKind.ApprovalRequested,
        // Tier 1 is cleared by the gate alone: the action runs now and people are told.
        MissionState.Approved when mission.Tier == 1 && mission.Approval is null => NotificationKind.ActionRan,
        MissionState.Failed => NotificationKind.MissionFailed,
        MissionState.RolledBack => NotificationKind.MissionRolledBack,
        MissionState.Expired => NotificationKind.MissionExpired,
        MissionState.Blocked => NotificationKind.MissionBlocked,
        _ => null,
    };

    private NotificationContent MissionContent(NotificationKind kind, Mission mission, MissionState state, string message)
    {
        var what = $"'{mission.PlaybookKey}' on '{mission.Target}'";
        var title = kind switch
        {
            NotificationKind.ApprovalRequested => $"Approval needed (tier {mission.Tier}): {what}",
            NotificationKind.ActionRan => $"Tier 1 action running: {what}",
            NotificationKind.MissionFailed => $"Mission failed: {what}",
            NotificationKind.MissionRolledBack => $"Mission rolled back: {what}",
            NotificationKind.MissionExpired => $"Approval expired: {what}",
            _ => $"Mission blocked: {what}",
        };
        var missionLink = Url($"/missions/{mission.Id}");
        return new NotificationContent
        {
            Kind = kind,
            Title = title,
            Text = message,
            Link = kind == NotificationKind.ApprovalRequested ? Url("/approvals") : missionLink,
            MissionLink = missionLink,
            At = time.GetUtcNow(),
            MissionId = mission.Id,
            IncidentId = mission.IncidentId,
            PatternKey = mission.PatternKey,
            PlaybookKey = mission.PlaybookKey,
            Target = mission.Target,
            Tier = mission.Tier,
            State = state,
            Reason = mission.StatusReason,
        };
    }

    private async Task AddSilenceAsync(GraceDbContext db, Mission mission, CancellationToken cancellationToken)
    {
        if (!Silences(mission))
        {
            return;
        }

        var labels = await AlertLabelsAsync(db, mission, cancellationToken);
        if (labels is null)
        {
            return;
        }

        var now = time.GetUtcNow();
        var content = new NotificationContent
        {
            Kind = NotificationKind.AlertSilence,
            Title = $"Silence {labels["alertname"]} while Grace heals it",
            Text = $"Mission {mission.Id} runs '{mission.PlaybookKey}' on '{mission.Target}'.",
            Link = Url($"/missions/{mission.Id}"),
            At = now,
            MissionId = mission.Id,
            IncidentId = mission.IncidentId,
            PatternKey = mission.PatternKey,
            PlaybookKey = mission.PlaybookKey,
            Target = mission.Target,
            Matchers = labels,
            SilenceEndsAt = now.AddMinutes(alertmanager.CurrentValue.MaxSilenceMinutes),
            SilenceComment = $"Grace is healing this alert: mission {Url($"/missions/{mission.Id}")} ('{mission.PlaybookKey}' on '{mission.Target}').",
        };
        await AddAsync(db, NotificationKind.AlertSilence, AlertmanagerChannel, $"{NotificationKind.AlertSilence}:{mission.Id}", mission.Id, mission.IncidentId, content, cancellationToken);
    }

    private async Task AddSilenceExpiryAsync(GraceDbContext db, Mission mission, CancellationToken cancellationToken)
    {
        var createKey = $"{NotificationKind.AlertSilence}:{mission.Id}";
        var silenced = db.Notifications.Local.Any(n => n.DedupKey == createKey)
            || await db.Notifications.AsNoTracking().AnyAsync(n => n.DedupKey == createKey, cancellationToken);
        if (!silenced)
        {
            return;
        }

        var content = new NotificationContent
        {
            Kind = NotificationKind.AlertSilenceExpire,
            Title = "Lift the silence: the mission has ended",
            Text = $"Mission {mission.Id} ended {mission.State}.",
            Link = Url($"/missions/{mission.Id}"),
            At = time.GetUtcNow(),
            MissionId = mission.Id,
            IncidentId = mission.IncidentId,
            State = mission.State,
        };
        await AddAsync(db, NotificationKind.AlertSilenceExpire, AlertmanagerChannel, $"{NotificationKind.AlertSilenceExpire}:{mission.Id}", mission.Id, mission.IncidentId, content, cancellationToken);
    }

    private bool Silences(Mission mission) =>
        !string.IsNullOrWhiteSpace(alertmanager.CurrentValue.Url)
        && catalog.CurrentValue.Patterns.TryGetValue(mission.PatternKey, out var pattern) && pattern.SilenceAlertmanager;

    /// <summary>The labels of the alert behind the mission's incident (its annotations left out), or null when it did not come from Alertmanager.</summary>
    private async Task<Dictionary<string, string>?> AlertLabelsAsync(GraceDbContext db, Mission mission, CancellationToken cancellationToken)
    {
        var json = mission.Incident?.Labels
            ?? db.Incidents.Local.FirstOrDefault(i => i.Id == mission.IncidentId)?.Labels
            ?? await db.Incidents.AsNoTracking().Where(i => i.Id == mission.IncidentId).Select(i => i.Labels).FirstOrDefaultAsync(cancellationToken);
        if (json is null)
        {
            return null;
        }

        Dictionary<string, string>? labels;
        try
        {
            labels = JsonSerializer.Deserialize<Dictionary<string, string>>(json);
        }
        catch (JsonException ex)
        {
            logger.LogWarning(ex, "The labels of incident {IncidentId} could not be read; no Alertmanager silence for mission {MissionId}", mission.IncidentId, mission.Id);
            return null;
        }

        // Only an alert (it has an alertname) is silenced; annotations are not labels and match nothing.
        var matchers = labels?.Where(l => !l.Key.StartsWith("annotation.", StringComparison.Ordinal)).ToDictionary(l => l.Key, l => l.Value, StringComparer.Ordinal);
        return matchers is not null && matchers.ContainsKey("alertname") ? matchers : null;
    }

    /// <summary>Adds one row unless its dedup key is already stored or pending in this context. Returns whether it was added.</summary>
    private async Task<bool> AddAsync(GraceDbContext db, NotificationKind kind, string channel, string dedupKey, Guid? missionId, Guid? incidentId, NotificationContent content, CancellationToken cancellationToken)
    {
        dedupKey = Shorten(dedupKey, Notification.DedupKeyMaxLength);
        if (db.Notifications.Local.Any(n => n.DedupKey == dedupKey)
            || await db.Notifications.AsNoTracking().AnyAsync(n => n.DedupKey == dedupKey, cancellationToken))
        {
            return false;
        }

        var payload = content.ToJson();
        if (payload.Length > Notification.PayloadMaxLength)
        {
            payload = (content with { Text = Shorten(content.Text, 2000), Reason = content.Reason is null ? null : Shorten(content.Reason, 1000) }).ToJson();
        }

        var now = time.GetUtcNow();
        db.Notifications.Add(new Notification
        {
            Id = Guid.CreateVersion7(now),
            Kind = kind,
            Channel = channel,
            DedupKey = dedupKey,
            MissionId = missionId,
            IncidentId = incidentId,
            Payload = payload,
            Status = NotificationStatus.Pending,
            NextAttemptAt = now,
            CreatedAt = now,
        });
        return true;
    }

    private string Url(string path) => options.CurrentValue.ConsoleUrl.TrimEnd('/') + path;

    internal static string Shorten(string text, int length) => text.Length <= length ? text : text[..(length - 1)] + "…";
}
