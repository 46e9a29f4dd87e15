using System.Text.Json;
using System.Text.Json.Serialization;
using Grace.Data.Entities;

namespace Grace.Engine.Notifications.Outbox;

/// <summary>
/// What an outbox row says, written when the transition happens (so a message tells the state of
/// things then, not at delivery). Stored as the row's payload; every channel renders it.
/// </summary>
public sealed record NotificationContent
{
    public required NotificationKind Kind { get; init; }
    public required string Title { get; init; }
    public required string Text { get; init; }
    /// <summary>Straight to where a person acts: the approvals page for a request, else the mission.</summary>
    public required string Link { get; init; }
    public DateTimeOffset At { get; init; }
    public Guid? MissionId { get; init; }
    public Guid? IncidentId { get; init; }
    public string? PatternKey { get; init; }
    public string? PlaybookKey { get; init; }
    public string? Target { get; init; }
    public int? Tier { get; init; }
    public MissionState? State { get; init; }
    public string? Reason { get; init; }
    /// <summary>The mission's page, also on approval requests.</summary>
    public string? MissionLink { get; init; }
    /// <summary>For a silence: the alert's labels as matchers, and how long it may last at most.</summary>
    public Dictionary<string, string>? Matchers { get; init; }
    public DateTimeOffset? SilenceEndsAt { get; init; }
    public string? SilenceComment { get; init; }

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter() },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static NotificationContent FromJson(string json) =>
        JsonSerializer.Deserialize<NotificationContent>(json, Json) ?? throw new JsonException("The notification payload is empty.");
}
