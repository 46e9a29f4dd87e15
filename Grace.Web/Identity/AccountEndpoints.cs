using Grace.Data.Entities;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc;

namespace Grace.Web.Identity;

/// <summary>Sign-in and sign-out are plain HTTP posts: a cookie can only be set on an HTTP response, not over a Blazor circuit.</summary>
public static class AccountEndpoints
{
    public static IEndpointRouteBuilder MapAccountEndpoints(this IEndpointRouteBuilder app)
    {
        var account = app.MapGroup("/account");
        account.MapPost("/login", async ([FromForm] string? userName, [FromForm] string? password, [FromForm] string? returnUrl,
            SignInManager<GraceUser> signIn, Grace.Engine.Audit.AuditTrail audit, HttpContext http) =>
        {
            var target = LocalOnly(returnUrl);
            if (string.IsNullOrWhiteSpace(userName) || string.IsNullOrEmpty(password))
            {
                return Results.LocalRedirect($"/account/login?error=missing&returnUrl={Uri.EscapeDataString(target)}");
            }

            var result = await signIn.PasswordSignInAsync(userName, password, isPersistent: false, lockoutOnFailure: true);
            await audit.WriteAsync(userName, result.Succeeded ? "account.sign-in" : "account.sign-in-failed", "console",
                result.IsLockedOut ? "locked out" : null, http.Connection.RemoteIpAddress?.ToString());
            if (!result.Succeeded)
            {
                var error = result.IsLockedOut ? "locked" : "invalid";
                return Results.LocalRedirect($"/account/login?error={error}&returnUrl={Uri.EscapeDataString(target)}");
            }

            return Results.LocalRedirect(target);
        }).AllowAnonymous();

        // Changing one's own password asks for the current one; the renewed stamp ends the person's other sessions.
        account.MapPost("/password", async ([FromForm] string? currentPassword, [FromForm] string? newPassword, [FromForm] string? confirmPassword,
            UserManager<GraceUser> users, SignInManager<GraceUser> signIn, Grace.Engine.Audit.AuditTrail audit, HttpContext http) =>
        {
            if (string.IsNullOrEmpty(currentPassword) || string.IsNullOrEmpty(newPassword) || string.IsNullOrEmpty(confirmPassword))
            {
                return Results.LocalRedirect("/account/password?error=missing");
            }

            if (newPassword != confirmPassword)
            {
                return Results.LocalRedirect("/account/password?error=mismatch");
            }

            if (newPassword == currentPassword)
            {
                return Results.LocalRedirect("/account/password?error=same");
            }

            var user = await users.GetUserAsync(http.User);
            if (user is null)
            {
                return Results.LocalRedirect("/account/login");
            }

            // The current password is checked as a sign-in is, failures counted: a stolen session cannot guess it at leisure.
            var remote = http.Connection.RemoteIpAddress?.ToString();
            var check = await signIn.CheckPasswordSignInAsync(user, currentPassword, lockoutOnFailure: true);
            if (!check.Succeeded)
            {
                await audit.WriteAsync(user.UserName!, "account.password-change-failed", $"user/{user.UserName}", check.IsLockedOut ? "locked out" : "wrong current password", remote);
                return Results.LocalRedirect($"/account/password?error={(check.IsLockedOut ? "locked" : "wrong")}");
            }

            var result = await users.ChangePasswordAsync(user, currentPassword, newPassword);
            if (!result.Succeeded)
            {
                await audit.WriteAsync(user.UserName!, "account.password-change-failed", $"user/{user.UserName}", "new password too weak", remote);
                return Results.LocalRedirect("/account/password?error=weak");
            }

            await signIn.RefreshSignInAsync(user);
            await audit.WriteAsync(user.UserName!, "account.password-change", $"user/{user.UserName}", null, remote);
            return Results.LocalRedirect("/account/password?changed=true");
        });

        account.MapPost("/logout", async (SignInManager<GraceUser> signIn) =>
        {
            await signIn.SignOutAsync();
            return Results.LocalRedirect("/account/login");
        }).WithMetadata(new Microsoft.AspNetCore.Antiforgery.RequireAntiforgeryTokenAttribute());
        return app;
    }

    // Only a path on this site: an open redirect after sign-in is a phishing aid.
    private static string LocalOnly(string? returnUrl) =>
        !string.IsNullOrEmpty(returnUrl) && returnUrl.StartsWith('/') && !returnUrl.StartsWith("//", StringComparison.Ordinal) && !returnUrl.StartsWith("/\\", StringComparison.Ordinal)
            ? returnUrl : "/";
}
