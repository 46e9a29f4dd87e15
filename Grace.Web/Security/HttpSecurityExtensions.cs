using System.Net;
using Microsoft.AspNetCore.HostFiltering;
using Microsoft.AspNetCore.HttpsPolicy;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Options;

namespace Grace.Web.Security;

public static class HttpSecurityExtensions
{
    /// <summary><c>Grace:Http</c> validated on start; allowed hosts, trusted proxies, HSTS and connection caps from it.</summary>
    public static IServiceCollection AddGraceHttp(this IServiceCollection services)
    {
        services.AddOptions<GraceHttpOptions>().BindConfiguration(GraceHttpOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<IValidateOptions<GraceHttpOptions>, GraceHttpOptionsValidator>();
        services.AddSingleton<ConnectionLimiter>();

        // The host's own filter (it runs first of all) learns Grace's list; without one, any host is allowed.
        services.AddOptions<HostFilteringOptions>().PostConfigure<IOptions<GraceHttpOptions>>((filter, grace) =>
        {
            if (grace.Value.Hosts.Count > 0)
            {
                filter.AllowedHosts = grace.Value.Hosts.ToList();
                filter.AllowEmptyHosts = false;
                filter.IncludeFailureMessage = false;
            }
        });

        services.AddOptions<ForwardedHeadersOptions>().Configure<IOptions<GraceHttpOptions>>((forwarded, grace) =>
        {
            // Only the configured proxies: the framework's default trusts loopback, which a local
            // process or a misrouted request could use to claim any address.
            forwarded.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
            forwarded.KnownProxies.Clear();
            forwarded.KnownIPNetworks.Clear();
            foreach (var proxy in grace.Value.KnownProxies)
            {
                forwarded.KnownProxies.Add(IPAddress.Parse(proxy));
            }

            foreach (var network in grace.Value.KnownNetworks)
            {
                forwarded.KnownIPNetworks.Add(System.Net.IPNetwork.Parse(network));
            }
        });

        services.AddHsts(_ => { });
        services.AddOptions<HstsOptions>().Configure<IOptions<GraceHttpOptions>>((hsts, grace) =>
        {
            hsts.MaxAge = TimeSpan.FromDays(grace.Value.HstsDays);
            hsts.IncludeSubDomains = false;
            // Loopback is excluded by default; a TLS terminator on the same machine is a real deployment.
            hsts.ExcludedHosts.Clear();
        });
        return services;
    }

    /// <summary>Forwarded headers (from trusted proxies only), HSTS over https, security headers on every response.</summary>
    public static WebApplication UseGraceHttp(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<IOptions<GraceHttpOptions>>().Value;
        if (options.KnownProxies.Length > 0 || options.KnownNetworks.Length > 0)
        {
            app.UseForwardedHeaders();
        }

        if (options.HstsDays > 0)
        {
            // Sent on https responses only (the framework's rule), so plain http in development is unaffected.
            app.UseHsts();
        }

        app.UseGraceSecurityHeaders();
        return app;
    }
}
