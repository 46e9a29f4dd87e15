using System.Security.Cryptography;
using System.Text;

namespace Grace.Engine.Notifications.Outbox;

/// <summary>The HMAC-SHA256 signatures of Grace's webhooks and of Slack's requests.</summary>
public static class Signatures
{
    /// <summary>Grace's webhook signature: <c>sha256=</c> and the hex HMAC-SHA256 of <c>{timestamp}.{body}</c> with the shared secret.</summary>
    public static string Webhook(string secret, long timestamp, string body) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"{timestamp}.{body}")));

    /// <summary>Slack's v0 signature: <c>v0=</c> and the hex HMAC-SHA256 of <c>v0:{timestamp}:{raw body}</c> with the signing secret.</summary>
    public static string Slack(string signingSecret, string timestamp, ReadOnlySpan<byte> body)
    {
        var prefix = Encoding.UTF8.GetBytes($"v0:{timestamp}:");
        var message = new byte[prefix.Length + body.Length];
        prefix.CopyTo(message, 0);
        body.CopyTo(message.AsSpan(prefix.Length));
        return "v0=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(signingSecret), message));
    }

    /// <summary>Compares two signatures in constant time (no early exit that would leak how much matched).</summary>
    public static bool Matches(string expected, string? presented) =>
        presented is not null && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(presented));
}
