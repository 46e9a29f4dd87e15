using Grace.Data.Entities;
using Grace.Engine.Configuration;
using Microsoft.Extensions.Options;
using MimeKit;

namespace Grace.Engine.Notifications.Outbox;

/// <summary>
/// Checks <c>Grace:Notifications</c> and <c>Grace:Alertmanager</c> at start. Every fault names its
/// key, like the catalog's validator: a typo in a channel or a route stops Grace saying where.
/// </summary>
public sealed class NotificationOptionsValidator(IOptionsMonitor<CatalogOptions> catalog, IOptionsMonitor<AlertmanagerOptions> alertmanager)
    : IValidateOptions<NotificationOptions>
{
    private const string At = NotificationOptions.Section;

    public ValidateOptionsResult Validate(string? name, NotificationOptions options)
    {
        var errors = new List<string>();
        RequireUrl($"{At}:ConsoleUrl", options.ConsoleUrl, errors);
        Range($"{At}:MaxAttempts", options.MaxAttempts, 1, 100, errors);
        Range($"{At}:InitialBackoffSeconds", options.InitialBackoffSeconds, 0.05, 86_400, errors);
        Range($"{At}:MaxBackoffSeconds", options.MaxBackoffSeconds, options.InitialBackoffSeconds, 7 * 86_400, errors);
        Range($"{At}:PollIntervalSeconds", options.PollIntervalSeconds, 0.05, 3600, errors);
        Range($"{At}:LeaseSeconds", options.LeaseSeconds, 5, 3600, errors);
        Range($"{At}:TimeoutSeconds", options.TimeoutSeconds, 0.1, 300, errors);
        if (options.TimeoutSeconds >= options.LeaseSeconds)
        {
            errors.Add($"{At}:TimeoutSeconds ({options.TimeoutSeconds:G}) must be shorter than {At}:LeaseSeconds ({options.LeaseSeconds}), or another instance could send a row while this one still waits for an answer.");
        }

        var seen = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        void Key(string kind, string key)
        {
            if (seen.TryGetValue(key, out var other))
            {
                errors.Add($"{At}:{kind}:{key}: the channel key '{key}' is also used under {At}:{other}; channel keys are unique across kinds.");
            }

            seen.TryAdd(key, kind);
            if (key.Length > Notification.ChannelMaxLength)
            {
                errors.Add($"{At}:{kind}:{key}: a channel key has at most {Notification.ChannelMaxLength} characters.");
            }

            if (string.Equals(key, NotificationOutbox.AlertmanagerChannel, StringComparison.OrdinalIgnoreCase))
            {
                errors.Add($"{At}:{kind}:{key}: '{NotificationOutbox.AlertmanagerChannel}' is reserved for Alertmanager silences; choose another key.");
            }
        }

        foreach (var (key, webhook) in options.Webhooks)
        {
            Key("Webhooks", key);
            RequireUrl($"{At}:Webhooks:{key}:Url", webhook.Url, errors);
            if (webhook.Secret is not { Length: >= 16 })
            {
                errors.Add($"{At}:Webhooks:{key}:Secret is required: a shared secret of at least 16 characters that signs every request.");
            }
        }

        foreach (var (key, slack) in options.Slack)
        {
            Key("Slack", key);
            var at = $"{At}:Slack:{key}";
            var hasWebhook = !string.IsNullOrWhiteSpace(slack.WebhookUrl);
            var hasBot = !string.IsNullOrWhiteSpace(slack.BotToken);
            if (hasWebhook == hasBot)
            {
                errors.Add($"{at}: give either WebhookUrl (an incoming webhook) or BotToken and Channel (chat.postMessage), not {(hasWebhook ? "both" : "neither")}.");
            }

            if (hasWebhook)
            {
                RequireUrl($"{at}:WebhookUrl", slack.WebhookUrl, errors);
            }

            if (hasBot)
            {
                if (string.IsNullOrWhiteSpace(slack.Channel))
                {
                    errors.Add($"{at}:Channel is required with BotToken: the channel id or name to post to.");
                }

                RequireUrl($"{at}:ApiBaseUrl", slack.ApiBaseUrl, errors);
            }
        }

        foreach (var (key, teams) in options.Teams)
        {
            Key("Teams", key);
            RequireUrl($"{At}:Teams:{key}:WebhookUrl", teams.WebhookUrl, errors);
        }

        foreach (var (key, mail) in options.Mail)
        {
            Key("Mail", key);
            var at = $"{At}:Mail:{key}";
            if (string.IsNullOrWhiteSpace(mail.Host))
            {
                errors.Add($"{at}:Host is required: the SMTP server.");
            }

            Range($"{at}:Port", mail.Port, 1, 65_535, errors);
            if (!Enum.IsDefined(mail.Security))
            {
                errors.Add($"{at}:Security must be one of {string.Join(", ", Enum.GetNames<MailSecurity>())}.");
            }

            if (mail.From is null || !MailboxAddress.TryParse(mail.From, out _))
            {
                errors.Add($"{at}:From is required: a mail address such as \"Grace <grace@example.com>\".");
            }

            if (mail.To.Count == 0)
            {
                errors.Add($"{at}:To needs at least one address.");
            }

            for (var i = 0; i < mail.To.Count; i++)
            {
                if (!MailboxAddress.TryParse(mail.To[i], out _))
                {
                    errors.Add($"{at}:To:{i}: '{mail.To[i]}' is not a mail address.");
                }
            }

            if (!string.IsNullOrEmpty(mail.UserName) && string.IsNullOrEmpty(mail.Password))
            {
                errors.Add($"{at}:Password is required with UserName.");
            }
        }

        for (var i = 0; i < options.Routes.Count; i++)
        {
            var route = options.Routes[i];
            var at = $"{At}:Routes:{i}";
            if (route.Channels.Count == 0)
            {
                errors.Add($"{at}:Channels must name at least one channel.");
            }

            for (var c = 0; c < route.Channels.Count; c++)
            {
                if (!seen.ContainsKey(route.Channels[c]))
                {
                    errors.Add($"{at}:Channels:{c}: channel '{route.Channels[c]}' is not defined; known channels: {(seen.Count == 0 ? "none" : string.Join(", ", seen.Keys.Order()))}.");
                }
            }

            for (var e = 0; e < route.Events.Count; e++)
            {
                if (!Enum.IsDefined(route.Events[e]) || route.Events[e] is NotificationKind.AlertSilence or NotificationKind.AlertSilenceExpire)
                {
                    errors.Add($"{at}:Events:{e}: '{route.Events[e]}' is not an event people are told of; use {string.Join(", ", Enum.GetValues<NotificationKind>().Where(k => k is not (NotificationKind.AlertSilence or NotificationKind.AlertSilenceExpire)))}.");
                }
            }

            for (var p = 0; p < route.Patterns.Count; p++)
            {
                if (!catalog.CurrentValue.Patterns.ContainsKey(route.Patterns[p]))
                {
                    errors.Add($"{at}:Patterns:{p}: pattern '{route.Patterns[p]}' is not defined under Grace:Patterns.");
                }
            }

            if (route.MinimumTier is < 0 or > 3)
            {
                errors.Add($"{at}:MinimumTier must be 0, 1, 2 or 3 (it is {route.MinimumTier}).");
            }
        }

        var app = options.SlackApp;
        Range($"{At}:SlackApp:MaxAgeSeconds", app.MaxAgeSeconds, 30, 3600, errors);
        if (app.Users.Count > 0 && string.IsNullOrWhiteSpace(app.SigningSecret))
        {
            errors.Add($"{At}:SlackApp:SigningSecret is required when {At}:SlackApp:Users maps people: without it no Slack button can be trusted.");
        }

        foreach (var (slackUser, graceUser) in app.Users)
        {
            if (string.IsNullOrWhiteSpace(graceUser))
            {
                errors.Add($"{At}:SlackApp:Users:{slackUser} must name a Grace user.");
            }
        }

        var am = alertmanager.CurrentValue;
        if (!string.IsNullOrWhiteSpace(am.Url))
        {
            RequireUrl($"{AlertmanagerOptions.Section}:Url", am.Url, errors);
        }

        Range($"{AlertmanagerOptions.Section}:MaxSilenceMinutes", am.MaxSilenceMinutes, 5, 7 * 24 * 60, errors);
        foreach (var (key, pattern) in catalog.CurrentValue.Patterns)
        {
            if (pattern.SilenceAlertmanager && string.IsNullOrWhiteSpace(am.Url))
            {
                errors.Add($"Grace:Patterns:{key}:SilenceAlertmanager needs {AlertmanagerOptions.Section}:Url: the Alertmanager to silence the alert in.");
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void RequireUrl(string key, string? value, List<string> errors)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            errors.Add($"{key} is required.");
        }
        else if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            // The value is not repeated: a webhook URL often holds its token.
            errors.Add($"{key} must be an absolute http(s) URL.");
        }
    }

    private static void Range(string key, double value, double min, double max, List<string> errors)
    {
        if (double.IsNaN(value) || value < min || value > max)
        {
            errors.Add($"{key} must be between {min:G} and {max:G} (it is {value:G}).");
        }
    }
}
