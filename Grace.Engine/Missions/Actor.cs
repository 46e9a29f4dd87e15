namespace Grace.Engine.Missions;

/// <summary>The console's roles, from least to most power.</summary>
public static class GraceRoles
{
    public const string Viewer = "Viewer";
    public const string Operator = "Operator";
    public const string Lead = "Lead";
    public const string Admin = "Admin";

    public static readonly IReadOnlyList<string> All = [Viewer, Operator, Lead, Admin];
}

/// <summary>
/// Who acts: the engine or a signed-in person with roles. Services check it; pages only hide buttons.
/// <paramref name="Via"/> says where a person acted from (the console, or a verified Slack button).
/// </summary>
public sealed record Actor(string Name, IReadOnlyCollection<string> Roles, string? RemoteAddress = null, Grace.Data.Entities.DecisionVia Via = Grace.Data.Entities.DecisionVia.Console)
{
    public const string EngineName = "engine";

    public static Actor Engine { get; } = new(EngineName, [GraceRoles.Admin]);

    public bool IsEngine => Name == EngineName;

    /// <summary>True when this actor's roles grant <paramref name="permission"/> (<see cref="RolePermissions"/>).</summary>
    public bool Can(Permission permission) => RolePermissions.Allows(Roles, permission);

    /// <summary>Operators and above may approve or reject.</summary>
    public bool CanApprove => Can(Permission.Approve);

    /// <summary>Operators and above act on incidents: acknowledge, assign, comment, resolve, run a playbook now.</summary>
    public bool CanActOnIncidents => Can(Permission.ActOnIncidents);

    /// <summary>Leads and Admins change tiers and the kill switch.</summary>
    public bool CanChangePolicy => Can(Permission.ChangePolicy);
}

/// <summary>A person asked for something their role or the rules do not allow. The message says why.</summary>
public sealed class MissionOperationException(string message, bool forbidden = false, bool notFound = false, string? field = null) : Exception(message)
{
    /// <summary>The request field at fault, when the input (not the state) is wrong: the API answers 400 naming it.</summary>
    public string? Field { get; } = field;

    /// <summary>True when the actor lacks the role; false when the request conflicts with the mission's state.</summary>
    public bool Forbidden { get; } = forbidden;

    /// <summary>True when what the request names (a mission) does not exist.</summary>
    public bool NotFound { get; } = notFound;
}
