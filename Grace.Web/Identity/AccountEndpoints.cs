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
            PasswordSignIn signIn, Grace.Engine.Audit.AuditTrail audit, HttpContext http) =>
        {
            var target = ReturnUrls.Sanitize(returnUrl);
            if (string.IsNullOrWhiteSpace(userName) || string.IsNullOrEmpty(password))
            {
                return Results.LocalRedirect($"/account/login?error=missing&returnUrl={Uri.EscapeDataString(target)}");
            }

            var outcome = await signIn.SignInAsync(userName, password, http.RequestAborted);
            await audit.WriteAsync(userName, outcome == SignInOutcome.SignedIn ? "account.sign-in" : "account.sign-in-failed", "console",
                outcome == SignInOutcome.LockedOut ? "locked out" : null, http.Connection.RemoteIpAddress?.ToString());
            if (outcome != SignInOutcome.SignedIn)
            {
                var error = outcome == SignInOutcome.LockedOut ? "locked" : "invalid";
                return Results.LocalRedirect($"/account/login?error={error}&returnUrl={Uri.EscapeDataString(target)}");
            }

            return Results.LocalRedirect(target);
        }).AllowAnonymous().AddEndpointFilter<SignInRateLimit>();

        // Changing one's own password asks for the current one; the renewed stamp ends the person's other sessions.
        account.MapPost("/password", async ([FromForm] string? currentPassword, [FromForm] string? newPassword, [FromForm] string? confirmPassword,
            UserManager<GraceUser> users, SignInManager<GraceUser> signIn, PasswordSignIn check, SessionStamps stamps, Grace.Engine.Audit.AuditTrail audit, HttpContext http) =>
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
            var (outcome, _) = await check.CheckAsync(user.UserName!, currentPassword, http.RequestAborted);
            if (outcome != SignInOutcome.SignedIn)
            {
                var locked = outcome == SignInOutcome.LockedOut;
                await audit.WriteAsync(user.UserName!, "account.password-change-failed", $"user/{user.UserName}", locked ? "locked out" : "wrong current password", remote);
                return Results.LocalRedirect($"/account/password?error={(locked ? "locked" : "wrong")}");
            }

            var result = await users.ChangePasswordAsync(user, currentPassword, newPassword);
            if (!result.Succeeded)
            {
                await audit.WriteAsync(user.UserName!, "account.password-change-failed", $"user/{user.UserName}", "new password too weak", remote);
                return Results.LocalRedirect("/account/password?error=weak");
            }

            stamps.Forget(user.Id);
            await signIn.RefreshSignInAsync(user);
            await audit.WriteAsync(user.UserName!, "account.password-change", $"user/{user.UserName}", null, remote);
            return Results.LocalRedirect("/account/password?changed=true");
        });

        // The form's antiforgery token is checked here: the middleware only marks a bad token, and a
        // minimal endpoint without form parameters would otherwise run anyway (a cross-site form
        // could end anyone's session). Signing out renews the security stamp, so a cookie copied
        // before no longer works (SessionStamps).
        account.MapPost("/logout", async (SignInManager<GraceUser> signIn, UserManager<GraceUser> users, SessionStamps stamps,
            Grace.Engine.Audit.AuditTrail audit, HttpContext http) =>
        {
            // Set by the antiforgery middleware for this endpoint (RequireAntiforgeryToken below).
            if (http.Features.Get<Microsoft.AspNetCore.Antiforgery.IAntiforgeryValidationFeature>() is not { IsValid: true })
            {
                return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "The sign-out form's token is missing or wrong.",
                    detail: "Sign out with the console's Sign out button.");
            }

            if (await users.GetUserAsync(http.User) is { } user)
            {
                await users.UpdateSecurityStampAsync(user);
                stamps.Forget(user.Id);
                await audit.WriteAsync(user.UserName!, "account.sign-out", "console", null, http.Connection.RemoteIpAddress?.ToString());
            }

            await signIn.SignOutAsync();
            return Results.LocalRedirect("/account/login");
        }).WithMetadata(new Microsoft.AspNetCore.Antiforgery.RequireAntiforgeryTokenAttribute()).AllowAnonymous();
        return app;
    }
}
