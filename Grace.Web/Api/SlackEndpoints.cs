using System.Globalization;
using System.Text;
using System.Text.Json;
using Grace.Data.Entities;
using Grace.Engine.Gate;
using Grace.Engine.Missions;
using Grace.Engine.Notifications.Outbox;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;

namespace Grace.Web.Api;

/// <summary>
/// <c>POST /api/slack/interactions</c>: the Slack app's interactivity URL. Every request is checked
/// with Slack's request signing (v0, HMAC-SHA256 of <c>v0:{timestamp}:{raw body}</c> with the
/// signing secret, at most five minutes old); the Slack user is mapped to a Grace user
/// (<c>Grace:Notifications:SlackApp:Users</c>) whose roles come from Grace's database; the decision
/// goes through the same <see cref="ApprovalService"/> as the console's, so the same rules hold.
/// </summary>
public static class SlackEndpoints
{
    public const string TimestampHeader = "X-Slack-Request-Timestamp";
    public const string SignatureHeader = "X-Slack-Signature";
    private const int MaxBodyBytes = 64 * 1024;
    private const string Title = "The Slack request was not accepted.";

    public static IEndpointRouteBuilder MapSlackEndpoints(this IEndpointRouteBuilder app)
    {
        // Slack signs its requests instead of signing in: the signature is the authentication.
        app.MapPost("/api/slack/interactions", InteractAsync).AllowAnonymous().DisableAntiforgery().WithName("SlackInteractions");
        return app;
    }

    /// <summary>What a verified Slack button asked for.</summary>
    internal sealed record SlackAction(string SlackUserId, string ActionId, string Value);

    internal static async Task<IResult> InteractAsync(HttpRequest request, IOptionsMonitor<NotificationOptions> options, ApprovalService approvals,
        UserManager<GraceUser> users, TimeProvider time, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var logger = loggers.CreateLogger("Grace.Web.Api.SlackEndpoints");
        var app = options.CurrentValue.SlackApp;
        var body = await ReadAsync(request, cancellationToken);
        if (body is null)
        {
            return Results.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: Title, detail: $"Slack's interaction payloads are small; this one is over {MaxBodyBytes} bytes.");
        }

        if (Verify(app, request.Headers[TimestampHeader], request.Headers[SignatureHeader], body, time.GetUtcNow()) is { } refusal)
        {
            logger.LogWarning("A Slack interaction from {Address} was refused: {Reason}", request.HttpContext.Connection.RemoteIpAddress, refusal);
            return Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "The Slack signature was not accepted.", detail: refusal);
        }

        var (action, invalid) = Parse(body);
        if (action is null)
        {
            return Results.ValidationProblem(invalid!, title: Title);
        }

        if (action.ActionId == SlackChannel.OpenAction)
        {
            // The link button opens the console in the browser; Slack still tells the app, which has nothing to do.
            return Results.Ok(new { text = "" });
        }

        if (!Guid.TryParse(action.Value, out var missionId))
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["payload.actions[0].value"] = ["The button's value must be a mission id."] }, title: Title);
        }

        if (!app.Users.TryGetValue(action.SlackUserId, out var userName))
        {
            return Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Not allowed.",
                detail: $"Slack user {action.SlackUserId} is not mapped to a Grace user (Grace:Notifications:SlackApp:Users).");
        }

        // Roles come from Grace's database now, not from when the mapping was written; a disabled account decides nothing.
        var user = await users.FindByNameAsync(userName);
        if (user is null || await users.IsLockedOutAsync(user))
        {
            return Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Not allowed.",
                detail: $"Slack user {action.SlackUserId} maps to '{userName}', who {(user is null ? "does not exist" : "is disabled or locked out")} in Grace.");
        }

        var roles = (await users.GetRolesAsync(user)).ToList();
        var address = $"slack:{action.SlackUserId}";
        var actor = new Actor(user.UserName!, roles, address.Length > 64 ? address[..64] : address, DecisionVia.Slack);
        var verdict = action.ActionId == SlackChannel.ApproveAction ? ApprovalVerdict.Approve : ApprovalVerdict.Reject;
        try
        {
            // A button carries no reason; the rejection says where it came from instead.
            var status = await approvals.DecideAsync(missionId, actor, verdict, verdict == ApprovalVerdict.Reject ? "Rejected in Slack." : null, cancellationToken);
            var said = status switch
            {
                ApprovalStatus.Approved => $"Approved by {actor.Name} via Slack: the action runs now.",
                ApprovalStatus.Rejected => $"Rejected by {actor.Name} via Slack: nothing runs.",
                _ => $"Approved by {actor.Name} via Slack; another approver is needed.",
            };
            return Results.Ok(new { response_type = "ephemeral", replace_original = false, text = said, mission = missionId, status = status.ToString() });
        }
        catch (MissionOperationException ex)
        {
            var code = ex.Forbidden ? StatusCodes.Status403Forbidden : ex.NotFound ? StatusCodes.Status404NotFound : StatusCodes.Status409Conflict;
            return Results.Problem(statusCode: code, title: ex.Forbidden ? "Not allowed." : Title, detail: ex.Message);
        }
    }

    /// <summary>Checks Slack's v0 signature and the timestamp's age. Returns why the request is refused, or null.</summary>
    public static string? Verify(SlackAppOptions app, string? timestamp, string? signature, byte[] body, DateTimeOffset now)
    {
        if (string.IsNullOrEmpty(app.SigningSecret))
        {
            return "Grace:Notifications:SlackApp:SigningSecret is not set, so no Slack request can be verified.";
        }

        if (string.IsNullOrEmpty(timestamp) || string.IsNullOrEmpty(signature))
        {
            return $"The request is not signed: {TimestampHeader} and {SignatureHeader} are required.";
        }

        if (!long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
        {
            return $"{TimestampHeader} must be a Unix time in seconds.";
        }

        var age = now.ToUnixTimeSeconds() - seconds;
        if (Math.Abs(age) > app.MaxAgeSeconds)
        {
            return $"The request is {age} s old; at most {app.MaxAgeSeconds} s is accepted (a replay is refused).";
        }

        return Signatures.Matches(Signatures.Slack(app.SigningSecret, timestamp, body), signature)
            ? null
            : $"{SignatureHeader} does not match the body signed with the app's signing secret.";
    }

    /// <summary>Reads the form body's <c>payload</c> (a block_actions interaction). Returns the action or the fields at fault.</summary>
    internal static (SlackAction? Action, Dictionary<string, string[]>? Errors) Parse(byte[] body)
    {
        static (SlackAction?, Dictionary<string, string[]>?) Invalid(string field, string message) => (null, new() { [field] = [message] });
        var form = QueryHelpers.ParseQuery(Encoding.UTF8.GetString(body));
        if (!form.TryGetValue("payload", out var payload) || string.IsNullOrEmpty(payload))
        {
            return Invalid("payload", "Slack sends interactions as a form with a 'payload' field holding JSON.");
        }

        try
        {
            using var json = JsonDocument.Parse(payload.ToString());
            var root = json.RootElement;
            if (JsonText.FindInvalid(root) is { } invalid)
            {
                return Invalid($"payload.{invalid.Field}", invalid.Message);
            }

            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String || type.GetString() != "block_actions")
            {
                return Invalid("payload.type", "Only block_actions interactions (the Approve and Reject buttons) are handled.");
            }

            if (!root.TryGetProperty("user", out var user) || user.ValueKind != JsonValueKind.Object
                || !user.TryGetProperty("id", out var id) || id.ValueKind != JsonValueKind.String || string.IsNullOrEmpty(id.GetString()))
            {
                return Invalid("payload.user.id", "The interaction must name the Slack user.");
            }

            if (!root.TryGetProperty("actions", out var actions) || actions.ValueKind != JsonValueKind.Array || actions.GetArrayLength() == 0
                || actions[0].ValueKind != JsonValueKind.Object)
            {
                return Invalid("payload.actions", "The interaction must carry the button that was pressed.");
            }

            var first = actions[0];
            var actionId = first.TryGetProperty("action_id", out var a) && a.ValueKind == JsonValueKind.String ? a.GetString()! : "";
            if (actionId is not (SlackChannel.ApproveAction or SlackChannel.RejectAction or SlackChannel.OpenAction))
            {
                return Invalid("payload.actions[0].action_id", $"Unknown action '{actionId}'; Grace's buttons are {SlackChannel.ApproveAction}, {SlackChannel.RejectAction} and {SlackChannel.OpenAction}.");
            }

            var value = first.TryGetProperty("value", out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "";
            return (new SlackAction(id.GetString()!, actionId, value), null);
        }
        catch (JsonException ex)
        {
            return Invalid("payload", $"The payload is not valid JSON: {ex.Message}");
        }
    }

    private static async Task<byte[]?> ReadAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (request.ContentLength > MaxBodyBytes)
        {
            return null;
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > MaxBodyBytes)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }
}
