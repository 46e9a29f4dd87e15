using Grace.Data.Entities;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Notifications.Outbox;

/// <summary>Picks the channels an event goes to, from <c>Grace:Notifications:Routes</c>.</summary>
public sealed class NotificationRouter(IOptionsMonitor<NotificationOptions> options)
{
    /// <summary>
    /// The channels (distinct, in route order) for an event. <paramref name="patternKey"/> and
    /// <paramref name="tier"/> are null for events that belong to no mission (the kill switch).
    /// </summary>
    public IReadOnlyList<string> ChannelsFor(NotificationKind kind, string? patternKey, int? tier)
    {
        var channels = new List<string>();
        foreach (var route in options.CurrentValue.Routes)
        {
            if (route.Events.Count > 0 && !route.Events.Contains(kind))
            {
                continue;
            }

            if (route.Patterns.Count > 0 && (patternKey is null || !route.Patterns.Contains(patternKey, StringComparer.OrdinalIgnoreCase)))
            {
                continue;
            }

            if (route.MinimumTier is { } minimum && (tier is null || tier < minimum))
            {
                continue;
            }

            foreach (var channel in route.Channels)
            {
                if (!channels.Contains(channel, StringComparer.OrdinalIgnoreCase))
                {
                    channels.Add(channel);
                }
            }
        }

        return channels;
    }
}
