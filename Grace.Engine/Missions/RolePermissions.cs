using System.Collections.Frozen;

namespace Grace.Engine.Missions;

/// <summary>What a person may do in Grace. Each is granted to roles in <see cref="RolePermissions"/>, nowhere else.</summary>
public enum Permission
{
    /// <summary>See the console: pages, the hub, the read-only API.</summary>
    View,

    /// <summary>Send signals with the console's session (a signal can start a tier-0 action).</summary>
    SendSignals,

    /// <summary>Approve or reject a mission.</summary>
    Approve,

    /// <summary>Acknowledge, assign, comment on and resolve incidents; run a playbook now.</summary>
    ActOnIncidents,

    /// <summary>Change a playbook's tier and the kill switch.</summary>
    ChangePolicy,

    /// <summary>Read the audit log.</summary>
    ReadAudit,

    /// <summary>Manage people, API keys, notifications and fault injection.</summary>
    Administer,
}

/// <summary>
/// The one map of which role may do what. The engine's services check an <see cref="Actor"/>
/// against it, and the web layer builds its authorization policies from it, so a page, an endpoint
/// and the service behind them can never disagree.
/// </summary>
public static class RolePermissions
{
    private static readonly FrozenDictionary<string, FrozenSet<Permission>> Map = new Dictionary<string, FrozenSet<Permission>>(StringComparer.Ordinal)
    {
        [GraceRoles.Viewer] = FrozenSet.ToFrozenSet([Permission.View]),
        [GraceRoles.Operator] = FrozenSet.ToFrozenSet([Permission.View, Permission.SendSignals, Permission.Approve, Permission.ActOnIncidents]),
        [GraceRoles.Lead] = FrozenSet.ToFrozenSet([Permission.View, Permission.SendSignals, Permission.Approve, Permission.ActOnIncidents, Permission.ChangePolicy, Permission.ReadAudit]),
        [GraceRoles.Admin] = Enum.GetValues<Permission>().ToFrozenSet(),
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>True when one of <paramref name="roles"/> grants <paramref name="permission"/>.</summary>
    public static bool Allows(IEnumerable<string> roles, Permission permission) =>
        roles.Any(role => Map.TryGetValue(role, out var granted) && granted.Contains(permission));

    /// <summary>The roles that grant <paramref name="permission"/>, least powerful first.</summary>
    public static IReadOnlyList<string> RolesFor(Permission permission) =>
        GraceRoles.All.Where(role => Map[role].Contains(permission)).ToList();
}
