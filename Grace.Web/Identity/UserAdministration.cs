using Grace.Data.Entities;
using Grace.Engine.Missions;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;

namespace Grace.Web.Identity;

/// <summary>
/// Admins add people, change their role, disable them and reset their password. One scope (and
/// so one database context) per operation. Every change renews the person's security stamp, so
/// their open sessions end at the next revalidation; no change may leave Grace without an active Admin.
/// </summary>
public sealed class UserAdministration(IServiceScopeFactory scopes, Grace.Engine.Audit.AuditTrail audit)
{
    public sealed record UserRow(string UserName, IReadOnlyList<string> Roles, DateTimeOffset? LockedOutUntil, bool Disabled);

    // A disabled person is locked out until the end of time: Identity refuses the sign-in, and the stamp check ends the sessions.
    private static readonly DateTimeOffset Forever = DateTimeOffset.MaxValue;

    // Providers store the end of time with their own precision (PostgreSQL keeps microseconds): the year tells.
    internal static bool IsDisabled(DateTimeOffset? lockoutEnd) => lockoutEnd?.Year == Forever.Year;

    // Changes to who is an active Admin are made one at a time, so two Admins demoting each other at
    // once cannot both see "another Admin remains" (one Grace instance; see ADR 0008).
    private static readonly SemaphoreSlim AdminChanges = new(1, 1);

    public async Task<IReadOnlyList<UserRow>> ListAsync()
    {
        await using var scope = scopes.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<GraceUser>>();
        var rows = new List<UserRow>();
        foreach (var user in await users.Users.AsNoTracking().OrderBy(u => u.UserName).ToListAsync())
        {
            rows.Add(new UserRow(user.UserName!, (await users.GetRolesAsync(user)).ToList(), IsDisabled(user.LockoutEnd) ? null : user.LockoutEnd, IsDisabled(user.LockoutEnd)));
        }

        return rows;
    }

    /// <summary>Creates a person with one role and returns their generated password. Admins only.</summary>
    public async Task<string> CreateAsync(Actor actor, string userName, string role)
    {
        RequireRole(role);
        await using var scope = scopes.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<GraceUser>>();
        await RequireAdminAsync(users, actor, "add users");
        var password = IdentitySeeder.GeneratePassword();
        var user = new GraceUser { UserName = userName.Trim() };
        Check(await users.CreateAsync(user, password));
        await users.AddToRoleAsync(user, role);
        await audit.WriteAsync(actor.Name, "user.create", $"user/{user.UserName}", $"role {role}", actor.RemoteAddress);
        return password;
    }

    /// <summary>Gives a person exactly one role.</summary>
    public Task ChangeRoleAsync(Actor actor, string userName, string role)
    {
        RequireRole(role);
        return ChangeAdminsAsync(actor, "change roles", users => ChangeRoleLockedAsync(users, actor, userName, role));
    }

    private async Task ChangeRoleLockedAsync(UserManager<GraceUser> users, Actor actor, string userName, string role)
    {
        var user = await FindAsync(users, userName);
        var current = await users.GetRolesAsync(user);
        if (current.Count == 1 && current[0] == role)
        {
            return;
        }

        if (current.Contains(GraceRoles.Admin) && role != GraceRoles.Admin)
        {
            await RequireAnotherActiveAdminAsync(users, actor, user, $"take the Admin role from {user.UserName}");
        }

        Check(await users.RemoveFromRolesAsync(user, current));
        Check(await users.AddToRoleAsync(user, role));
        // Roles travel in the session cookie: a new stamp makes open sessions sign in again with the new role.
        Check(await users.UpdateSecurityStampAsync(user));
        await audit.WriteAsync(actor.Name, "user.role", $"user/{user.UserName}", $"{string.Join(", ", current)} → {role}", actor.RemoteAddress);
    }

    /// <summary>Disables (no sign-in, open sessions end) or enables a person.</summary>
    public Task SetDisabledAsync(Actor actor, string userName, bool disabled) =>
        ChangeAdminsAsync(actor, disabled ? "disable users" : "enable users", users => SetDisabledLockedAsync(users, actor, userName, disabled));

    /// <summary>Runs a change that may alter who is an active Admin: one at a time, by an Admin checked in the database.</summary>
    private async Task ChangeAdminsAsync(Actor actor, string what, Func<UserManager<GraceUser>, Task> change)
    {
        await using var scope = scopes.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<GraceUser>>();
        await AdminChanges.WaitAsync();
        try
        {
            await RequireAdminAsync(users, actor, what);
            await change(users);
        }
        finally
        {
            AdminChanges.Release();
        }
    }

    private async Task SetDisabledLockedAsync(UserManager<GraceUser> users, Actor actor, string userName, bool disabled)
    {
        var user = await FindAsync(users, userName);
        if (disabled)
        {
            if (await users.IsInRoleAsync(user, GraceRoles.Admin))
            {
                await RequireAnotherActiveAdminAsync(users, actor, user, $"disable {user.UserName}");
            }

            Check(await users.SetLockoutEnabledAsync(user, true));
            Check(await users.SetLockoutEndDateAsync(user, Forever));
        }
        else
        {
            Check(await users.SetLockoutEndDateAsync(user, null));
            Check(await users.ResetAccessFailedCountAsync(user));
        }

        Check(await users.UpdateSecurityStampAsync(user));
        await audit.WriteAsync(actor.Name, disabled ? "user.disable" : "user.enable", $"user/{user.UserName}", null, actor.RemoteAddress);
    }

    /// <summary>
    /// Lifts the lockout that failed sign-ins put on a person (they keep their password), and clears
    /// the failure count. A disabled person stays disabled: Enable is a separate, deliberate choice.
    /// </summary>
    public async Task UnlockAsync(Actor actor, string userName)
    {
        await using var scope = scopes.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<GraceUser>>();
        await RequireAdminAsync(users, actor, "unlock users");
        var user = await FindAsync(users, userName);
        if (IsDisabled(user.LockoutEnd))
        {
            throw new MissionOperationException($"{user.UserName} is disabled, not locked out: enable them instead.");
        }

        if (!await users.IsLockedOutAsync(user))
        {
            throw new MissionOperationException($"{user.UserName} is not locked out.");
        }

        Check(await users.SetLockoutEndDateAsync(user, null));
        Check(await users.ResetAccessFailedCountAsync(user));
        await audit.WriteAsync(actor.Name, "user.unlock", $"user/{user.UserName}", null, actor.RemoteAddress);
    }

    /// <summary>Sets a generated password for someone who lost theirs and returns it (shown once). Their open sessions end.</summary>
    public async Task<string> ResetPasswordAsync(Actor actor, string userName)
    {
        await using var scope = scopes.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<GraceUser>>();
        await RequireAdminAsync(users, actor, "reset passwords");
        var user = await FindAsync(users, userName);
        if (string.Equals(user.UserName, actor.Name, StringComparison.OrdinalIgnoreCase))
        {
            throw new MissionOperationException("Change your own password on the Password page: it asks for the current one.");
        }

        var password = IdentitySeeder.GeneratePassword();
        Check(await users.ResetPasswordAsync(user, await users.GeneratePasswordResetTokenAsync(user), password));
        await audit.WriteAsync(actor.Name, "user.reset-password", $"user/{user.UserName}", null, actor.RemoteAddress);
        return password;
    }

    /// <summary>
    /// The acting person must be an active Admin now, in the database: the roles their session carries
    /// may be up to a revalidation interval old, and a just-demoted Admin must not use that window.
    /// </summary>
    private static async Task RequireAdminAsync(UserManager<GraceUser> users, Actor actor, string what)
    {
        var me = actor.Can(Permission.Administer) ? await users.FindByNameAsync(actor.Name) : null;
        if (me is null || IsDisabled(me.LockoutEnd) || !await users.IsInRoleAsync(me, GraceRoles.Admin))
        {
            throw new MissionOperationException($"{actor.Name} may not {what}: it needs the Admin role.", forbidden: true);
        }
    }

    private static void RequireRole(string role)
    {
        if (!GraceRoles.All.Contains(role))
        {
            throw new MissionOperationException($"'{role}' is not a role; use one of {string.Join(", ", GraceRoles.All)}.");
        }
    }

    private static async Task<GraceUser> FindAsync(UserManager<GraceUser> users, string userName) =>
        await users.FindByNameAsync(userName) ?? throw new MissionOperationException($"There is no user '{userName}'.");

    /// <summary>Refuses a change that would take the Admin role away from the acting person or the last active Admin.</summary>
    private static async Task RequireAnotherActiveAdminAsync(UserManager<GraceUser> users, Actor actor, GraceUser user, string what)
    {
        if (string.Equals(user.UserName, actor.Name, StringComparison.OrdinalIgnoreCase))
        {
            throw new MissionOperationException($"You may not {what}: ask another Admin, so nobody locks themselves out by mistake.");
        }

        var admins = await users.GetUsersInRoleAsync(GraceRoles.Admin);
        if (!admins.Any(a => a.Id != user.Id && !IsDisabled(a.LockoutEnd)))
        {
            throw new MissionOperationException($"You may not {what}: Grace would be left without an active Admin.");
        }
    }

    private static void Check(IdentityResult result)
    {
        if (!result.Succeeded)
        {
            throw new MissionOperationException(string.Join(" ", result.Errors.Select(e => e.Description)));
        }
    }
}
