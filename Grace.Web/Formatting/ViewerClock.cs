using Grace.Engine.Formatting;
using Microsoft.JSInterop;

namespace Grace.Web.Formatting;

/// <summary>
/// The time zone of the person looking at the console, asked from their browser once per circuit
/// (<c>Intl.DateTimeFormat().resolvedOptions().timeZone</c>) and used for every time the console
/// shows. Until the browser answers, or when it cannot (prerendering, an unknown zone id), times
/// are shown in UTC and say so.
/// </summary>
public sealed class ViewerClock(TimeProvider time, ILogger<ViewerClock> logger)
{
    private Task? _asking;

    /// <summary>The viewer's time zone, or UTC until (or unless) it is known.</summary>
    public TimeZoneInfo Zone { get; private set; } = TimeZoneInfo.Utc;

    /// <summary>True once the browser named a time zone this server knows.</summary>
    public bool Known { get; private set; }

    /// <summary>The zone's name for people: "Europe/Berlin", or "UTC (your browser's time zone is not known)".</summary>
    public string ZoneName => Known ? Zone.Id : "UTC (your browser's time zone is not known)";

    /// <summary>Raised once when the viewer's time zone becomes known, so shown times can re-render.</summary>
    public event Action? Changed;

    /// <summary>Now, for relative times.</summary>
    public DateTimeOffset Now => time.GetUtcNow();

    /// <summary>Asks the browser for its time zone; only the first call per circuit talks to it.</summary>
    public Task EnsureAsync(IJSRuntime js) => _asking ??= AskAsync(js);

    private async Task AskAsync(IJSRuntime js)
    {
        try
        {
            // No script file needed: Intl.DateTimeFormat() is callable, and its resolvedOptions() returns a plain object.
            await using var format = await js.InvokeAsync<IJSObjectReference>("Intl.DateTimeFormat");
            if (format is null)
            {
                return;
            }

            var options = await format.InvokeAsync<ResolvedOptions?>("resolvedOptions");
            Adopt(options?.TimeZone);
        }
        catch (Exception ex) when (ex is JSException or JSDisconnectedException or InvalidOperationException or TaskCanceledException)
        {
            // Prerendering or a closed circuit: UTC stays, and says so.
            logger.LogDebug(ex, "The browser's time zone could not be read; times stay in UTC.");
        }
    }

    /// <summary>
    /// The cookie grace.js keeps the browser's time zone in (<c>grace-zone=Europe/Berlin</c>), so that a page rendered
    /// per request, with no circuit to ask the browser (the lists), writes its times in the viewer's zone at once.
    /// </summary>
    public const string ZoneCookie = "grace-zone";

    /// <summary>
    /// Uses the zone the browser named in <see cref="ZoneCookie"/>, when the request has one this server knows; UTC (and
    /// saying so) otherwise. The value is the browser's to send: an unknown or overlong id is ignored, never an error.
    /// </summary>
    public bool AdoptFrom(Microsoft.AspNetCore.Http.HttpContext? request) =>
        request?.Request.Cookies[ZoneCookie] is { Length: > 0 and <= 64 } zone && Adopt(zone);

    /// <summary>Uses an IANA (or Windows) time zone id; false, and UTC kept, when this server does not know it.</summary>
    public bool Adopt(string? zoneId)
    {
        if (string.IsNullOrWhiteSpace(zoneId) || !TimeZoneInfo.TryFindSystemTimeZoneById(zoneId, out var zone))
        {
            return false;
        }

        Zone = zone;
        Known = true;
        Changed?.Invoke();
        return true;
    }

    /// <summary>As short as is clear today: "14:03:12", "Nov 29, 14:03", "2025-11-29 14:03".</summary>
    public string Time(DateTimeOffset at) => HumanFormat.Time(at, Zone, Now) + (Known ? "" : " UTC");

    /// <summary>In full: "2026-11-30 14:03:12".</summary>
    public string Stamp(DateTimeOffset at) => HumanFormat.Stamp(at, Zone) + (Known ? "" : " UTC");

    /// <summary>To the millisecond, for timelines: "14:03:12.045".</summary>
    public string Precise(DateTimeOffset at) => HumanFormat.Precise(at, Zone) + (Known ? "" : " UTC");

    /// <summary>"5 min ago", "in 3 min".</summary>
    public string Relative(DateTimeOffset at) => HumanFormat.Relative(at, Now);

    /// <summary>The tooltip of a shown time: the instant in UTC and the zone it was shown in.</summary>
    public string Tooltip(DateTimeOffset at) => Known ? $"{HumanFormat.Utc(at)} · shown in {Zone.Id}" : $"{HumanFormat.Utc(at)} · your browser's time zone is not known";

    /// <summary>The part of <c>Intl.DateTimeFormat().resolvedOptions()</c> Grace reads.</summary>
    public sealed record ResolvedOptions(string? TimeZone);
}
