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

    /// <summary>When a changed account's open sessions end, for people: "within 60 s".</summary>
    public static string Within(int revalidateSeconds) => revalidateSeconds <= 0 ? "at their next request" : $"within {revalidateSeconds} s";
}
