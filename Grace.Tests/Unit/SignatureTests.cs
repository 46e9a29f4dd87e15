using System.Text;
using Grace.Engine.Notifications.Outbox;
using Grace.Web.Api;

namespace Grace.Tests.Unit;

/// <summary>The signatures Grace checks and makes, against published and independently computed values.</summary>
public sealed class SignatureTests
{
    // Slack's documented example ("Verifying requests from Slack"): its signing secret, timestamp and
    // slash-command body, and the signature Slack documents for them.
    private const string SlackExampleSecret = "8f742231b10e8888abcd99yyyzzz85a5";
    private const string SlackExampleTimestamp = "1531420618";
    private const string SlackExampleBody = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    private const string SlackExampleSignature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    private static readonly DateTimeOffset SlackExampleTime = DateTimeOffset.FromUnixTimeSeconds(1531420618);

    [Fact]
    public void Slacks_documented_example_signature_is_reproduced()
    {
        Assert.Equal(SlackExampleSignature, Signatures.Slack(SlackExampleSecret, SlackExampleTimestamp, Encoding.UTF8.GetBytes(SlackExampleBody)));
    }

    [Fact]
    public void The_callback_accepts_slacks_example_and_refuses_a_forged_a_stale_and_an_unsigned_one()
    {
        var app = new SlackAppOptions { SigningSecret = SlackExampleSecret };
        var body = Encoding.UTF8.GetBytes(SlackExampleBody);
        Assert.Null(SlackEndpoints.Verify(app, SlackExampleTimestamp, SlackExampleSignature, body, SlackExampleTime.AddSeconds(30)));

        var tampered = Encoding.UTF8.GetBytes(SlackExampleBody.Replace("roadrunner", "wile.e", StringComparison.Ordinal));
        Assert.Contains("does not match", SlackEndpoints.Verify(app, SlackExampleTimestamp, SlackExampleSignature, tampered, SlackExampleTime));
        Assert.Contains("does not match", SlackEndpoints.Verify(app, SlackExampleTimestamp, SlackExampleSignature.Replace("a2114", "a2115", StringComparison.Ordinal), body, SlackExampleTime));
        Assert.Contains("does not match", SlackEndpoints.Verify(new SlackAppOptions { SigningSecret = "another-secret" }, SlackExampleTimestamp, SlackExampleSignature, body, SlackExampleTime));
        Assert.Contains("old", SlackEndpoints.Verify(app, SlackExampleTimestamp, SlackExampleSignature, body, SlackExampleTime.AddMinutes(5).AddSeconds(1)));
        Assert.Contains("old", SlackEndpoints.Verify(app, SlackExampleTimestamp, SlackExampleSignature, body, SlackExampleTime.AddMinutes(-6)));
        Assert.Contains("not signed", SlackEndpoints.Verify(app, null, null, body, SlackExampleTime));
        Assert.Contains("Unix time", SlackEndpoints.Verify(app, "yesterday", SlackExampleSignature, body, SlackExampleTime));
        Assert.Contains("SigningSecret is not set", SlackEndpoints.Verify(new SlackAppOptions(), SlackExampleTimestamp, SlackExampleSignature, body, SlackExampleTime));
    }

    [Fact]
    public void The_webhook_signature_is_hmac_sha256_of_timestamp_dot_body()
    {
        // Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac 'webhook-secret-0123456789'
        Assert.Equal(WebhookVector, Signatures.Webhook("webhook-secret-0123456789", 1_700_000_000, """{"a":1}"""));
    }

    private const string WebhookVector = "sha256=b46be92da8d98b9148d7d2f909e797a591600b083e62e63ead756723292b1a50";
}
