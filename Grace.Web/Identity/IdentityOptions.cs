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
}
