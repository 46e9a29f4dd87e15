using Grace.Data.Entities;

namespace Grace.Engine.Notifications.Outbox;

/// <summary>
/// <c>Grace:Notifications</c>: the channels people are told on, the routes that pick them, and how
/// the outbox delivers. Channels are typed per kind (<c>Webhooks</c>, <c>Slack</c>, <c>Teams</c>,
/// <c>Mail</c>), each a dictionary by channel key; a key is unique across kinds.
/// </summary>
public sealed class NotificationOptions
{
    public const string Section = "Grace:Notifications";

    /// <summary>The console's address as people reach it; every message links to <c>{ConsoleUrl}/missions/{id}</c> or <c>/approvals</c>.</summary>
    public string ConsoleUrl { get; set; } = "http://localhost:5132";

    /// <summary>Deliver outbox rows from this instance. Off, rows are still stored (another instance may deliver them).</summary>
    public bool DeliveryEnabled { get; set; } = true;

    /// <summary>Attempts before a row is given up (an Admin may retry it on the Notifications page).</summary>
    public int MaxAttempts { get; set; } = 8;

    /// <summary>Wait after the first failure; doubled after each further one, up to <see cref="MaxBackoffSeconds"/>.</summary>
    public double InitialBackoffSeconds { get; set; } = 10;

    public double MaxBackoffSeconds { get; set; } = 900;

    /// <summary>How often the dispatcher looks for due rows.</summary>
    public double PollIntervalSeconds { get; set; } = 2;

    /// <summary>How long a claimed row stays with this instance; a crashed instance's rows are taken over after it.</summary>
    public int LeaseSeconds { get; set; } = 60;

    /// <summary>Timeout of one delivery (Polly's timeout around the HTTP or SMTP call).</summary>
    public double TimeoutSeconds { get; set; } = 15;

    public Dictionary<string, WebhookChannelOptions> Webhooks { get; set; } = new(StringComparer.OrdinalIgnoreCase);
    public Dictionary<string, SlackChannelOptions> Slack { get; set; } = new(StringComparer.OrdinalIgnoreCase);
    public Dictionary<string, TeamsChannelOptions> Teams { get; set; } = new(StringComparer.OrdinalIgnoreCase);
    public Dictionary<string, MailChannelOptions> Mail { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Which events go to which channels. An event matching no route is not sent anywhere.</summary>
    public List<NotificationRoute> Routes { get; set; } = [];

    /// <summary>The Slack app whose buttons call back to <c>POST /api/slack/interactions</c>.</summary>
    public SlackAppOptions SlackApp { get; set; } = new();

    /// <summary>The kind of every configured channel, by key.</summary>
    public IReadOnlyDictionary<string, ChannelKind> ChannelKinds()
    {
        var kinds = new Dictionary<string, ChannelKind>(StringComparer.OrdinalIgnoreCase);
        foreach (var key in Webhooks.Keys) kinds.TryAdd(key, ChannelKind.Webhook);
        foreach (var key in Slack.Keys) kinds.TryAdd(key, ChannelKind.Slack);
        foreach (var key in Teams.Keys) kinds.TryAdd(key, ChannelKind.Teams);
        foreach (var key in Mail.Keys) kinds.TryAdd(key, ChannelKind.Mail);
        return kinds;
    }
}

public enum ChannelKind
{
    Webhook,
    Slack,
    Teams,
    Mail,
}

/// <summary>A generic webhook: a JSON POST signed with HMAC-SHA256 of <c>{timestamp}.{body}</c>.</summary>
public sealed class WebhookChannelOptions
{
    public string? Url { get; set; }
    /// <summary>The shared secret the receiver checks the signature with (at least 16 characters).</summary>
    public string? Secret { get; set; }
}

/// <summary>Slack: an incoming webhook, or a bot token posting to a channel with chat.postMessage.</summary>
public sealed class SlackChannelOptions
{
    /// <summary>An incoming webhook URL (no buttons' callbacks need a bot, but buttons need the Slack app's interactivity).</summary>
    public string? WebhookUrl { get; set; }
    /// <summary>A bot token (<c>xoxb-...</c>) with <c>chat:write</c>; needs <see cref="Channel"/>.</summary>
    public string? BotToken { get; set; }
    public string? Channel { get; set; }
    /// <summary>Slack's Web API; tests point it at a loopback receiver.</summary>
    public string ApiBaseUrl { get; set; } = "https://slack.com/api";
}

/// <summary>Microsoft Teams: an incoming webhook (a Workflows or connector URL) that takes an Adaptive Card.</summary>
public sealed class TeamsChannelOptions
{
    public string? WebhookUrl { get; set; }
}

/// <summary>How the SMTP connection is secured (MailKit's SecureSocketOptions).</summary>
public enum MailSecurity
{
    /// <summary>STARTTLS when the server offers it.</summary>
    Auto,
    None,
    StartTls,
    /// <summary>TLS from the first byte (port 465).</summary>
    SslOnConnect,
}

/// <summary>Mail over SMTP (MailKit).</summary>
public sealed class MailChannelOptions
{
    public string? Host { get; set; }
    public int Port { get; set; } = 587;
    public MailSecurity Security { get; set; } = MailSecurity.Auto;
    public string? UserName { get; set; }
    public string? Password { get; set; }
    public string? From { get; set; }
    public List<string> To { get; set; } = [];
}

/// <summary>A routing rule: these events go to these channels, optionally only for some patterns or tiers.</summary>
public sealed class NotificationRoute
{
    /// <summary>Event kinds; empty means every notification kind.</summary>
    public List<NotificationKind> Events { get; set; } = [];
    public List<string> Channels { get; set; } = [];
    /// <summary>Only missions of these pattern keys (empty: any). Kill-switch changes have no pattern and pass only routes without one.</summary>
    public List<string> Patterns { get; set; } = [];
    /// <summary>Only missions of at least this tier.</summary>
    public int? MinimumTier { get; set; }
}

/// <summary>The Slack app behind the Approve / Reject buttons.</summary>
public sealed class SlackAppOptions
{
    /// <summary>The app's signing secret (Basic Information → App Credentials). Without it the callback refuses everything.</summary>
    public string? SigningSecret { get; set; }
    /// <summary>Slack user id (<c>U0123ABC</c>) → Grace user name. Unmapped people cannot decide from Slack.</summary>
    public Dictionary<string, string> Users { get; set; } = new(StringComparer.Ordinal);
    /// <summary>How old a signed request may be (Slack recommends five minutes).</summary>
    public int MaxAgeSeconds { get; set; } = 300;
}

/// <summary><c>Grace:Alertmanager</c>: the Alertmanager Grace silences alerts in while it heals them.</summary>
public sealed class AlertmanagerOptions
{
    public const string Section = "Grace:Alertmanager";

    /// <summary>Alertmanager's base URL (<c>http://alertmanager:9093</c>). Empty: no silences.</summary>
    public string? Url { get; set; }

    /// <summary>A silence lasts at most this long even if Grace never lifts it (a crash, a lost database).</summary>
    public int MaxSilenceMinutes { get; set; } = 120;
}
