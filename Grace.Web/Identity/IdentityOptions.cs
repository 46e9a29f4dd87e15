namespace Grace.Web.Identity;

/// <summary>Sign-in settings (<c>Grace:Identity</c>).</summary>
public sealed class GraceIdentityOptions
{
    public const string Section = "Grace:Identity";

    /// <summary>User name of the administrator created on first start.</summary>
    public string AdminUserName { get; set; } = "admin";

    /// <summary>
    /// Password of that administrator. When empty, Grace generates one and prints it once to the
    /// log on first start. There is no default password.
    /// </summary>
    public string? AdminPassword { get; set; }

    /// <summary>
    /// How often an open session is checked against the database (disabled, new role, new
    /// password). 0 checks every request (the console's circuits at most once a second).
    /// </summary>
    [System.ComponentModel.DataAnnotations.Range(0, 3600, ErrorMessage = "Grace:Identity:RevalidateSeconds must be between {1} and {2}.")]
    public int RevalidateSeconds { get; set; } = 60;

    /// <summary>
    /// Sign-in attempts one client address may make per minute, right or wrong; more get 429 with
    /// Retry-After. Behind a reverse proxy the address is the one it forwards (Grace:Http:KnownProxies).
    /// </summary>
    [System.ComponentModel.DataAnnotations.Range(1, 100_000, ErrorMessage = "Grace:Identity:SignInAttemptsPerMinute must be between {1} and {2}.")]
    public int SignInAttemptsPerMinute { get; set; } = 10;

    /// <summary>
    /// How long an instance trusts what it last read of a person's session (their security stamp), in
    /// seconds, before reading it again. Signing out renews the stamp and clears it at once on the
    /// instance that signed out; other instances of a cluster follow within this many seconds. 0 reads every request.
    /// </summary>
    [System.ComponentModel.DataAnnotations.Range(0, 60, ErrorMessage = "Grace:Identity:SessionCheckSeconds must be between {1} and {2}.")]
    public int SessionCheckSeconds { get; set; } = 5;

    /// <summary>When a changed account's open sessions end, for people: "within 60 s".</summary>
    public static string Within(int revalidateSeconds) => revalidateSeconds <= 0 ? "at their next request" : $"within {revalidateSeconds} s";
}
