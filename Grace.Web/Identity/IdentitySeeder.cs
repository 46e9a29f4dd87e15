using System.Security.Cryptography;
using Grace.Data.Entities;
using Grace.Engine.Missions;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace Grace.Web.Identity;

/// <summary>
/// Creates the four roles and, on the very first start, one administrator. Its password comes from
/// <c>Grace:Identity:AdminPassword</c> or is generated and printed once to the log.
/// </summary>
internal sealed class IdentitySeeder(IServiceScopeFactory scopes, IOptions<GraceIdentityOptions> options, ILogger<IdentitySeeder> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var roles = scope.ServiceProvider.GetRequiredService<RoleManager<IdentityRole>>();
        foreach (var role in GraceRoles.All)
        {
            if (!await roles.RoleExistsAsync(role))
            {
                Check(await roles.CreateAsync(new IdentityRole(role)), $"create role {role}");
            }
        }

        var users = scope.ServiceProvider.GetRequiredService<UserManager<GraceUser>>();
        if (users.Users.Any())
        {
            return;
        }

        var generated = string.IsNullOrEmpty(options.Value.AdminPassword);
        var password = generated ? GeneratePassword() : options.Value.AdminPassword!;
        var admin = new GraceUser { UserName = options.Value.AdminUserName, DisplayName = "Administrator" };
        Check(await users.CreateAsync(admin, password), $"create the administrator '{admin.UserName}' (Grace:Identity:AdminPassword)");
        Check(await users.AddToRolesAsync(admin, [GraceRoles.Admin]), "give the administrator the Admin role");
        if (generated)
        {
            // Printed once, on the first start only; it is stored nowhere else in clear.
            logger.LogWarning("First start: created administrator '{UserName}' with password {Password} . Sign in with it, then choose your own on the Password page (click your name): it is not stored in clear and will not be shown again.",
                admin.UserName, password);
        }
        else
        {
            logger.LogInformation("First start: created administrator '{UserName}' with the password from Grace:Identity:AdminPassword.", admin.UserName);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    internal static string GeneratePassword()
    {
        const string alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
        var chars = Enumerable.Range(0, 20).Select(_ => alphabet[RandomNumberGenerator.GetInt32(alphabet.Length)]).ToArray();
        // Identity's default rules want a digit, both cases and a symbol.
        return $"{new string(chars)}-7aZ";
    }

    private static void Check(IdentityResult result, string what)
    {
        if (!result.Succeeded)
        {
            throw new InvalidOperationException($"Could not {what}: {string.Join(" ", result.Errors.Select(e => e.Description))}");
        }
    }
}
