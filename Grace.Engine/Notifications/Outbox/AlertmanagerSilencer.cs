using System.Text.Json;
using System.Text.Json.Nodes;
using Grace.Data;
using Grace.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Notifications.Outbox;

/// <summary>
/// Creates and expires Alertmanager silences (API v2) for the outbox. A silence's id is kept on
/// its row, so the expiry row of the same mission can lift it later, after a restart too.
/// </summary>
public sealed class AlertmanagerSilencer(IHttpClientFactory clients, IOptionsMonitor<AlertmanagerOptions> options, TimeProvider time)
{
    /// <summary>Creates the silence; returns its id and a line for the audit log.</summary>
    public async Task<(string SilenceId, string Audit)> CreateAsync(NotificationContent content, CancellationToken cancellationToken)
    {
        var url = BaseUrl();
        var matchers = new JsonArray();
        foreach (var (name, value) in content.Matchers ?? [])
        {
            matchers.Add(new JsonObject { ["name"] = name, ["value"] = value, ["isRegex"] = false, ["isEqual"] = true });
        }

        var now = time.GetUtcNow();
        // A row delivered late still silences for a while; Grace lifts it when the mission ends anyway.
        var endsAt = content.SilenceEndsAt is { } end && end > now.AddMinutes(1) ? end : now.AddMinutes(options.CurrentValue.MaxSilenceMinutes);
        var body = new JsonObject
        {
            ["matchers"] = matchers,
            ["startsAt"] = now.UtcDateTime.ToString("O"),
            ["endsAt"] = endsAt.UtcDateTime.ToString("O"),
            ["createdBy"] = "Grace",
            ["comment"] = content.SilenceComment ?? $"Grace is healing this alert: {content.Link}",
        };
        using var request = ChannelHttp.Json(HttpMethod.Post, $"{url}/api/v2/silences", body.ToJsonString());
        var answer = await ChannelHttp.PostAsync(clients, "Alertmanager (POST /api/v2/silences)", request, cancellationToken);
        string? id = null;
        try
        {
            using var json = JsonDocument.Parse(answer);
            id = json.RootElement.TryGetProperty("silenceID", out var s) ? s.GetString() : null;
        }
        catch (JsonException)
        {
        }

        if (string.IsNullOrEmpty(id))
        {
            throw new NotificationDeliveryException($"Alertmanager answered without a silenceID: {NotificationOutbox.Shorten(answer, 200)}");
        }

        var described = string.Join(", ", (content.Matchers ?? []).Select(m => $"{m.Key}=\"{m.Value}\""));
        return (id, $"Silence {id} in {url} until {endsAt:u} for {{{described}}}");
    }

    /// <summary>
    /// Lifts the silence the mission's creation row made. Returns a line for the audit log, or null
    /// when there was nothing to lift (the silence was never created, and now never will be).
    /// </summary>
    public async Task<string?> ExpireAsync(IDbContextFactory<GraceDbContext> dbFactory, Notification row, CancellationToken cancellationToken)
    {
        var createKey = $"{NotificationKind.AlertSilence}:{row.MissionId}";
        var now = time.GetUtcNow();
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var create = await db.Notifications.AsNoTracking().SingleOrDefaultAsync(n => n.DedupKey == createKey, cancellationToken);
        if (create is null || create.Status == NotificationStatus.GivenUp)
        {
            return null;
        }

        if (create.Status != NotificationStatus.Delivered)
        {
            // The mission ended before its silence was made: make sure it never is, unless an instance is sending it right now.
            var cancelled = await db.Notifications
                .Where(n => n.Id == create.Id && (n.Status == NotificationStatus.Pending || n.Status == NotificationStatus.Failing)
                    && (n.LeaseUntil == null || n.LeaseUntil < now))
                .ExecuteUpdateAsync(s => s.SetProperty(n => n.Status, NotificationStatus.GivenUp)
                    .SetProperty(n => n.LastError, "The mission ended before the silence was created; it is no longer needed."), cancellationToken);
            if (cancelled == 1)
            {
                return null;
            }

            throw new NotificationDeliveryException("The silence is being created right now; lifting it once it exists.");
        }

        var url = BaseUrl();
        using var request = new HttpRequestMessage(HttpMethod.Delete, $"{url}/api/v2/silence/{Uri.EscapeDataString(create.ExternalId!)}");
        await ChannelHttp.PostAsync(clients, $"Alertmanager (DELETE /api/v2/silence/{create.ExternalId})", request, cancellationToken);
        return $"Silence {create.ExternalId} in {url} expired: the mission ended.";
    }

    private string BaseUrl() => options.CurrentValue.Url is { Length: > 0 } url
        ? url.TrimEnd('/')
        : throw new NotificationDeliveryException("Grace:Alertmanager:Url is no longer configured.", permanent: true);
}
