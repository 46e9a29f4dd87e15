using Grace.Data.Entities;
using Grace.Engine.Missions;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;

namespace Grace.Web.Identity;

/// <summary>Admins add people with a role. One scope (and so one database context) per operation.</summary>
public sealed class UserAdministration(IServiceScopeFactory scopes, AuditLog audit)
{
    public sealed record UserRow(string UserName, IReadOnlyList<string> Roles, DateTimeOffset? LockedOutUntil);

    public async Task<IReadOnlyList<UserRow>> ListAsync()
    {
        await using var scope = scopes.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<GraceUser>>();
        var rows = new List<UserRow>();
        foreach (var user in await users.Users.AsNoTracking().OrderBy(u => u.UserName).ToListAsync())
        {
            rows.Add(new UserRow(user.UserName!, (await users.GetRolesAsync(user)).ToList(), user.LockoutEnd));
        }

        return rows;
    }

    /// <summary>Creates a person with one role and returns their generated password. Admins only.</summary>
    public async Task<string> CreateAsync(Actor actor, string userName, string role)
    {
        if (!actor.Roles.Contains(GraceRoles.Admin))
        {
            throw new MissionOperationException($"{actor.Name} may not add users: it needs the Admin role.", forbidden: true);
        }

        if (!GraceRoles.All.Contains(role))
        {
            throw new MissionOperationException($"'{role}' is not a role; use one of {string.Join(", ", GraceRoles.All)}.");
        }

        await using var scope = scopes.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<GraceUser>>();
        var password = IdentitySeeder.GeneratePassword();
        var user = new GraceUser { UserName = userName.Trim() };
        var created = await users.CreateAsync(user, password);
        if (!created.Succeeded)
        {
            throw new MissionOperationException(string.Join(" ", created.Errors.Select(e => e.Description)));
        }

        await users.AddToRoleAsync(user, role);
        await audit.WriteAsync(actor.Name, "user.create", $"user/{user.UserName}", $"role {role}", actor.RemoteAddress);
        return password;
    }
}
