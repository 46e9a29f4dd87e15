using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Missions;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Components.Server.Circuits;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Identity;

namespace Grace.Web.Identity;

/// <summary>The console's authorization policies, named after what they allow.</summary>
public static class GracePolicies
{
    public const string Approve = "approve";
    public const string ChangePolicy = "change-policy";
    public const string Admin = "admin";
}

public static class IdentityServiceExtensions
{
    /// <summary>
    /// ASP.NET Core Identity on Grace's own database, cookie sign-in, the four roles as policies,
    /// and sign-in required everywhere unless an endpoint says otherwise.
    /// </summary>
    public static IServiceCollection AddGraceIdentity(this IServiceCollection services)
    {
        services.AddOptions<GraceIdentityOptions>().BindConfiguration(GraceIdentityOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        // Keys in Grace's database, under one application name: a cookie or form token issued by one
        // instance of a cluster is accepted by every other (and survives a restart).
        services.AddDataProtection().SetApplicationName("Grace").PersistKeysToDbContext<Grace.Data.GraceDbContext>();
        services.AddAuthentication(IdentityConstants.ApplicationScheme).AddIdentityCookies();
        services.ConfigureApplicationCookie(cookie =>
        {
            cookie.LoginPath = "/account/login";
            cookie.AccessDeniedPath = "/account/denied";
            cookie.Cookie.Name = "grace.auth";
            cookie.Cookie.HttpOnly = true;
            cookie.Cookie.SameSite = SameSiteMode.Strict;
            cookie.ExpireTimeSpan = TimeSpan.FromHours(12);
            cookie.SlidingExpiration = true;
            // API and hub callers are programs: they get a status code, not a redirect to a form.
            cookie.Events.OnRedirectToLogin = context => Answer(context, StatusCodes.Status401Unauthorized);
            cookie.Events.OnRedirectToAccessDenied = context => Answer(context, StatusCodes.Status403Forbidden);
            // Secure whenever the request came over https (directly, or from a trusted proxy: Grace:Http:KnownProxies).
            cookie.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            SessionStamps.Install(cookie);
        });
        services.AddAntiforgery(o => o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest);
        services.AddMemoryCache();
        services.AddSingleton<SessionStamps>();
        services.AddScoped<PasswordSignIn>();
        services.AddIdentityCore<GraceUser>(o =>
            {
                o.Password.RequiredLength = 12;
                o.Lockout.MaxFailedAccessAttempts = 5;
                o.Lockout.DefaultLockoutTimeSpan = TimeSpan.FromMinutes(15);
                o.User.RequireUniqueEmail = false;
            })
            .AddRoles<IdentityRole>()
            .AddEntityFrameworkStores<GraceDbContext>()
            .AddSignInManager()
            .AddDefaultTokenProviders();

        services.AddAuthorizationBuilder().AddGracePolicies();
        services.AddCascadingAuthenticationState();
        // Sessions follow what Admins change: HTTP requests through the stamp validator, circuits through SessionRevalidation.
        services.AddOptions<SecurityStampValidatorOptions>().Configure<Microsoft.Extensions.Options.IOptions<GraceIdentityOptions>>(
            (o, grace) => o.ValidationInterval = TimeSpan.FromSeconds(grace.Value.RevalidateSeconds));
        services.AddScoped<Microsoft.AspNetCore.Components.Authorization.AuthenticationStateProvider, SessionRevalidation>();
        services.AddHttpContextAccessor();
        services.AddScoped<CurrentActor>();
        services.AddScoped<ConsoleActions>();
        services.AddScoped<CircuitHandler, ClientAddressCircuitHandler>();
        services.AddSingleton<UserAdministration>();
        services.AddHostedService<IdentitySeeder>();
        return services;
    }

    /// <summary>
    /// Sign-in everywhere, and the policies pages and endpoints name, each built from the engine's one
    /// role map (<see cref="RolePermissions"/>). The host and the component tests both use it.
    /// </summary>
    public static AuthorizationBuilder AddGracePolicies(this AuthorizationBuilder builder) => builder
        .SetFallbackPolicy(new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build())
        .AddPolicy(GracePolicies.Approve, p => p.RequireRole(RolePermissions.RolesFor(Permission.Approve)))
        .AddPolicy(GracePolicies.ChangePolicy, p => p.RequireRole(RolePermissions.RolesFor(Permission.ChangePolicy)))
        .AddPolicy(GracePolicies.Admin, p => p.RequireRole(RolePermissions.RolesFor(Permission.Administer)));

    private static Task Answer(Microsoft.AspNetCore.Authentication.RedirectContext<Microsoft.AspNetCore.Authentication.Cookies.CookieAuthenticationOptions> context, int status)
    {
        var path = context.Request.Path;
        // /v1 is OTLP (/v1/logs): exporters are programs too.
        if (path.StartsWithSegments("/api") || path.StartsWithSegments("/hubs") || path.StartsWithSegments("/v1"))
        {
            // Another scheme (the API key's) may already have answered with an explanation.
            if (!context.Response.HasStarted)
            {
                context.Response.StatusCode = status;
            }

            return Task.CompletedTask;
        }

        context.Response.Redirect(context.RedirectUri);
        return Task.CompletedTask;
    }
}
