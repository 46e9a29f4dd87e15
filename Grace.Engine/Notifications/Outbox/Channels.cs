using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Grace.Data.Entities;
using MailKit.Net.Smtp;
using MailKit.Security;
using Microsoft.Extensions.Options;
using MimeKit;

namespace Grace.Engine.Notifications.Outbox;

/// <summary>A delivery failed; the message says why, without secrets.</summary>
public sealed class NotificationDeliveryException(string message, bool permanent = false, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>True when trying again cannot help (the channel is gone from the configuration).</summary>
    public bool Permanent { get; } = permanent;
}

/// <summary>Sends one rendered notification on one kind of channel.</summary>
public interface INotificationChannel
{
    ChannelKind Kind { get; }

    Task SendAsync(string channelKey, Notification row, NotificationContent content, CancellationToken cancellationToken);
}

/// <summary>Shared HTTP posting: a JSON body, a 2xx answer, failures described without the URL (it may hold a token).</summary>
internal static class ChannelHttp
{
    public const string ClientName = "grace-notify";

    public static async Task<string> PostAsync(IHttpClientFactory clients, string what, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using var client = clients.CreateClient(ClientName);
        HttpResponseMessage response;
        try
        {
            response = await client.SendAsync(request, cancellationToken);
        }
        catch (HttpRequestException ex)
        {
            throw new NotificationDeliveryException($"{what} could not be reached: {ex.Message}", inner: ex);
        }

        using (response)
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                throw new NotificationDeliveryException($"{what} answered {(int)response.StatusCode} {response.ReasonPhrase}: {NotificationOutbox.Shorten(body, 300)}");
            }

            return body;
        }
    }

    public static HttpRequestMessage Json(HttpMethod method, string url, string json) =>
        new(method, url) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
}

/// <summary>A generic webhook: the content as JSON, signed so the receiver can trust it.</summary>
public sealed class WebhookChannel(IHttpClientFactory clients, IOptionsMonitor<NotificationOptions> options, TimeProvider time) : INotificationChannel
{
    public const string TimestampHeader = "X-Grace-Timestamp";
    public const string SignatureHeader = "X-Grace-Signature";
    public const string EventHeader = "X-Grace-Event";
    public const string DeliveryHeader = "X-Grace-Delivery";

    public ChannelKind Kind => ChannelKind.Webhook;

    public async Task SendAsync(string channelKey, Notification row, NotificationContent content, CancellationToken cancellationToken)
    {
        var channel = options.CurrentValue.Webhooks[channelKey];
        var body = Body(row, content);
        var timestamp = time.GetUtcNow().ToUnixTimeSeconds();
        using var request = ChannelHttp.Json(HttpMethod.Post, channel.Url!, body);
        request.Headers.Add(TimestampHeader, timestamp.ToString(CultureInfo.InvariantCulture));
        request.Headers.Add(SignatureHeader, Signatures.Webhook(channel.Secret!, timestamp, body));
        request.Headers.Add(EventHeader, row.Kind.ToString());
        request.Headers.Add(DeliveryHeader, row.Id.ToString());
        await ChannelHttp.PostAsync(clients, $"Webhook '{channelKey}'", request, cancellationToken);
    }

    /// <summary>The JSON body: the delivery id (the same on every retry, so receivers can drop repeats) and the content.</summary>
    public static string Body(Notification row, NotificationContent content)
    {
        var node = JsonSerializer.SerializeToNode(content, NotificationContent.Json)!.AsObject();
        node.Insert(0, "delivery", row.Id.ToString());
        node.Insert(1, "dedupKey", row.DedupKey);
        return node.ToJsonString();
    }
}

/// <summary>Slack: Block Kit messages; approval requests carry Approve and Reject buttons with the mission id as their value.</summary>
public sealed class SlackChannel(IHttpClientFactory clients, IOptionsMonitor<NotificationOptions> options) : INotificationChannel
{
    public const string ApproveAction = "grace_approve";
    public const string RejectAction = "grace_reject";
    public const string OpenAction = "grace_open";

    public ChannelKind Kind => ChannelKind.Slack;

    public async Task SendAsync(string channelKey, Notification row, NotificationContent content, CancellationToken cancellationToken)
    {
        var channel = options.CurrentValue.Slack[channelKey];
        var message = Message(content);
        if (!string.IsNullOrWhiteSpace(channel.BotToken))
        {
            message["channel"] = channel.Channel;
            using var request = ChannelHttp.Json(HttpMethod.Post, $"{channel.ApiBaseUrl.TrimEnd('/')}/chat.postMessage", message.ToJsonString());
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", channel.BotToken);
            var answer = await ChannelHttp.PostAsync(clients, $"Slack '{channelKey}' (chat.postMessage)", request, cancellationToken);
            // The Web API answers 200 even when it refuses: the verdict is in the body.
            using var json = ParseOrNull(answer);
            if (json is null || !json.RootElement.TryGetProperty("ok", out var ok) || !ok.GetBoolean())
            {
                var error = json is not null && json.RootElement.TryGetProperty("error", out var e) ? e.ToString() : NotificationOutbox.Shorten(answer, 200);
                throw new NotificationDeliveryException($"Slack '{channelKey}' refused chat.postMessage: {error}");
            }
        }
        else
        {
            using var request = ChannelHttp.Json(HttpMethod.Post, channel.WebhookUrl!, message.ToJsonString());
            await ChannelHttp.PostAsync(clients, $"Slack '{channelKey}' (incoming webhook)", request, cancellationToken);
        }
    }

    /// <summary>The Block Kit message: a linked title, the text, the facts, and the buttons.</summary>
    public static JsonObject Message(NotificationContent content)
    {
        var facts = string.Join(" · ", new[]
        {
            content.PatternKey is { } p ? $"pattern {p}" : null,
            content.Tier is { } t ? $"tier {t}" : null,
            content.Target is { } target ? $"target {target}" : null,
            content.State is { } s ? s.ToString() : null,
        }.Where(f => f is not null));
        var buttons = new JsonArray();
        if (content.Kind == NotificationKind.ApprovalRequested && content.MissionId is { } missionId)
        {
            buttons.Add(Button(ApproveAction, "Approve", missionId.ToString(), style: "primary"));
            buttons.Add(Button(RejectAction, "Reject", missionId.ToString(), style: "danger"));
        }

        var open = Button(OpenAction, "Open in Grace", content.MissionId?.ToString() ?? "grace");
        open["url"] = content.MissionLink ?? content.Link;
        buttons.Add(open);
        var blocks = new JsonArray
        {
            new JsonObject
            {
                ["type"] = "section",
                ["text"] = new JsonObject { ["type"] = "mrkdwn", ["text"] = $"*<{content.Link}|{Escape(content.Title)}>*\n{Escape(NotificationOutbox.Shorten(content.Text, 2800))}" },
            },
        };
        if (facts.Length > 0)
        {
            blocks.Add(new JsonObject { ["type"] = "context", ["elements"] = new JsonArray(new JsonObject { ["type"] = "mrkdwn", ["text"] = Escape(facts) }) });
        }

        blocks.Add(new JsonObject { ["type"] = "actions", ["block_id"] = "grace_actions", ["elements"] = buttons });
        return new JsonObject
        {
            // The fallback text of notifications and screen readers; the blocks are what people see.
            ["text"] = $"{content.Title}: {content.Link}",
            ["blocks"] = blocks,
            ["unfurl_links"] = false,
        };
    }

    private static JsonObject Button(string actionId, string text, string value, string? style = null)
    {
        var button = new JsonObject
        {
            ["type"] = "button",
            ["action_id"] = actionId,
            ["text"] = new JsonObject { ["type"] = "plain_text", ["text"] = text },
            ["value"] = value,
        };
        if (style is not null)
        {
            button["style"] = style;
        }

        return button;
    }

    // Slack's mrkdwn treats &, < and > as control characters.
    private static string Escape(string text) => text.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal);

    private static JsonDocument? ParseOrNull(string text)
    {
        try
        {
            return JsonDocument.Parse(text);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

/// <summary>Microsoft Teams: an Adaptive Card with the facts and a link, posted to an incoming webhook.</summary>
public sealed class TeamsChannel(IHttpClientFactory clients, IOptionsMonitor<NotificationOptions> options) : INotificationChannel
{
    public ChannelKind Kind => ChannelKind.Teams;

    public async Task SendAsync(string channelKey, Notification row, NotificationContent content, CancellationToken cancellationToken)
    {
        var channel = options.CurrentValue.Teams[channelKey];
        using var request = ChannelHttp.Json(HttpMethod.Post, channel.WebhookUrl!, Card(content).ToJsonString());
        await ChannelHttp.PostAsync(clients, $"Teams '{channelKey}'", request, cancellationToken);
    }

    /// <summary>The message as Teams' incoming webhooks take it: one Adaptive Card (1.4) attachment.</summary>
    public static JsonObject Card(NotificationContent content)
    {
        var facts = new JsonArray();
        void Fact(string title, string? value)
        {
            if (value is not null)
            {
                facts.Add(new JsonObject { ["title"] = title, ["value"] = value });
            }
        }

        Fact("Pattern", content.PatternKey);
        Fact("Playbook", content.PlaybookKey);
        Fact("Target", content.Target);
        Fact("Tier", content.Tier?.ToString(CultureInfo.InvariantCulture));
        Fact("State", content.State?.ToString());
        var actions = new JsonArray(new JsonObject
        {
            ["type"] = "Action.OpenUrl",
            ["title"] = content.Kind == NotificationKind.ApprovalRequested ? "Approve or reject in Grace" : "Open in Grace",
            ["url"] = content.Link,
        });
        if (content.MissionLink is { } missionLink && missionLink != content.Link)
        {
            actions.Add(new JsonObject { ["type"] = "Action.OpenUrl", ["title"] = "Open the mission", ["url"] = missionLink });
        }

        return new JsonObject
        {
            ["type"] = "message",
            ["attachments"] = new JsonArray(new JsonObject
            {
                ["contentType"] = "application/vnd.microsoft.card.adaptive",
                ["contentUrl"] = null,
                ["content"] = new JsonObject
                {
                    ["$schema"] = "http://adaptivecards.io/schemas/adaptive-card.json",
                    ["type"] = "AdaptiveCard",
                    ["version"] = "1.4",
                    ["body"] = new JsonArray(
                        new JsonObject { ["type"] = "TextBlock", ["size"] = "Medium", ["weight"] = "Bolder", ["text"] = content.Title, ["wrap"] = true },
                        new JsonObject { ["type"] = "TextBlock", ["text"] = NotificationOutbox.Shorten(content.Text, 2000), ["wrap"] = true },
                        new JsonObject { ["type"] = "FactSet", ["facts"] = facts }),
                    ["actions"] = actions,
                },
            }),
        };
    }
}

/// <summary>Mail over SMTP with MailKit: a plain-text and an HTML part, both with the link.</summary>
public sealed class MailChannel(IOptionsMonitor<NotificationOptions> options) : INotificationChannel
{
    public ChannelKind Kind => ChannelKind.Mail;

    public async Task SendAsync(string channelKey, Notification row, NotificationContent content, CancellationToken cancellationToken)
    {
        var channel = options.CurrentValue.Mail[channelKey];
        var message = Message(channel, row, content);
        using var smtp = new SmtpClient { Timeout = (int)TimeSpan.FromSeconds(options.CurrentValue.TimeoutSeconds).TotalMilliseconds };
        try
        {
            await smtp.ConnectAsync(channel.Host!, channel.Port, channel.Security switch
            {
                MailSecurity.None => SecureSocketOptions.None,
                MailSecurity.StartTls => SecureSocketOptions.StartTls,
                MailSecurity.SslOnConnect => SecureSocketOptions.SslOnConnect,
                _ => SecureSocketOptions.Auto,
            }, cancellationToken);
            if (!string.IsNullOrEmpty(channel.UserName))
            {
                await smtp.AuthenticateAsync(channel.UserName, channel.Password ?? "", cancellationToken);
            }

            await smtp.SendAsync(message, cancellationToken);
            await smtp.DisconnectAsync(true, cancellationToken);
        }
        catch (Exception ex) when (ex is MailKit.ProtocolException or MailKit.CommandException or System.Net.Sockets.SocketException or IOException or AuthenticationException or SslHandshakeException)
        {
            // MailKit's messages name the server's reply, never the password.
            throw new NotificationDeliveryException($"Mail '{channelKey}' via {channel.Host}:{channel.Port} failed: {ex.Message}", inner: ex);
        }
    }

    public static MimeMessage Message(MailChannelOptions channel, Notification row, NotificationContent content)
    {
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse(channel.From!));
        foreach (var to in channel.To)
        {
            message.To.Add(MailboxAddress.Parse(to));
        }

        message.Subject = $"[Grace] {content.Title}";
        // The same id on every retry, so a mail server or a person can tell repeats apart.
        message.MessageId = $"{row.Id:N}@grace";
        var text = $"{content.Title}\n\n{content.Text}\n\n{content.Link}\n" + (content.MissionLink is { } m && m != content.Link ? $"Mission: {m}\n" : "");
        var html = $"<p><strong>{Html(content.Title)}</strong></p><p>{Html(content.Text)}</p><p><a href=\"{Html(content.Link)}\">{(content.Kind == NotificationKind.ApprovalRequested ? "Approve or reject in Grace" : "Open in Grace")}</a></p>";
        message.Body = new BodyBuilder { TextBody = text, HtmlBody = html }.ToMessageBody();
        return message;
    }

    private static string Html(string text) => System.Net.WebUtility.HtmlEncode(text);
}
