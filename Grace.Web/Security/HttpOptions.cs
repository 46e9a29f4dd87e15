using System.ComponentModel.DataAnnotations;
using System.Net;
using Microsoft.Extensions.Options;

namespace Grace.Web.Security;

/// <summary>
/// How Grace meets the network (<c>Grace:Http</c>): the host names it answers to, the reverse
/// proxies whose forwarded headers it believes, HSTS, and caps on long-lived connections.
/// </summary>
public sealed class GraceHttpOptions
{
    public const string Section = "Grace:Http";

    /// <summary>
    /// Host names (with an optional port, <c>*.example.com</c> wildcards allowed) requests must name;
    /// any other Host header gets a 400 before anything could reflect it. Required in Production.
    /// Empty elsewhere means any host (development, tests).
    /// </summary>
    public string[] AllowedHosts { get; set; } = [];

    /// <summary>The allowed hosts given, blank entries (an override that empties one) left out.</summary>
    public IReadOnlyList<string> Hosts => AllowedHosts.Where(h => !string.IsNullOrWhiteSpace(h)).Select(h => h.Trim()).ToList();

    /// <summary>
    /// Addresses of the reverse proxies in front of Grace. Only their <c>X-Forwarded-For</c> and
    /// <c>X-Forwarded-Proto</c> are believed (the client's address for rate limits and the audit
    /// trail, https for HSTS and Secure cookies); nobody else's. Empty: no forwarded headers at all.
    /// </summary>
    public string[] KnownProxies { get; set; } = [];

    /// <summary>Networks (CIDR, <c>10.0.0.0/8</c>) of reverse proxies, as <see cref="KnownProxies"/>.</summary>
    public string[] KnownNetworks { get; set; } = [];

    /// <summary>How long browsers must use https only once they saw Grace over https (HSTS), in days. 0 sends no HSTS.</summary>
    [Range(0, 730, ErrorMessage = "Grace:Http:HstsDays must be between {1} and {2}.")]
    public int HstsDays { get; set; } = 365;

    /// <summary>Open console circuits (browser tabs) one person may have at once.</summary>
    [Range(1, 1000, ErrorMessage = "Grace:Http:MaxCircuitsPerUser must be between {1} and {2}.")]
    public int MaxCircuitsPerUser { get; set; } = 10;

    /// <summary>Open console circuits on this instance, everyone together.</summary>
    [Range(1, 100_000, ErrorMessage = "Grace:Http:MaxCircuits must be between {1} and {2}.")]
    public int MaxCircuits { get; set; } = 500;

    /// <summary>Open pipeline-hub connections (<c>/hubs/pipeline</c>) one person or key may have at once.</summary>
    [Range(1, 1000, ErrorMessage = "Grace:Http:MaxHubConnectionsPerUser must be between {1} and {2}.")]
    public int MaxHubConnectionsPerUser { get; set; } = 10;

    /// <summary>Open pipeline-hub connections on this instance, everyone together.</summary>
    [Range(1, 100_000, ErrorMessage = "Grace:Http:MaxHubConnections must be between {1} and {2}.")]
    public int MaxHubConnections { get; set; } = 500;
}

/// <summary>Checks what data annotations cannot: addresses parse, and Production names its hosts.</summary>
public sealed class GraceHttpOptionsValidator(IHostEnvironment environment) : IValidateOptions<GraceHttpOptions>
{
    public ValidateOptionsResult Validate(string? name, GraceHttpOptions options)
    {
        var errors = new List<string>();
        var hosts = options.Hosts;
        if (environment.IsProduction() && (hosts.Count == 0 || hosts.Contains("*")))
        {
            errors.Add("Grace:Http:AllowedHosts is required in Production: list the host names Grace is reached by (e.g. grace.example.com), "
                + "so a forged Host header is refused instead of being reflected into redirects.");
        }

        foreach (var (proxy, i) in options.KnownProxies.Select((p, i) => (p, i)))
        {
            if (!IPAddress.TryParse(proxy, out _))
            {
                errors.Add($"Grace:Http:KnownProxies:{i} ('{proxy}') is not an IP address.");
            }
        }

        foreach (var (network, i) in options.KnownNetworks.Select((n, i) => (n, i)))
        {
            if (!IPNetwork.TryParse(network, out _))
            {
                errors.Add($"Grace:Http:KnownNetworks:{i} ('{network}') is not a network in CIDR notation (10.0.0.0/8).");
            }
        }

        foreach (var (host, i) in options.AllowedHosts.Select((h, i) => (h, i)))
        {
            if (!string.IsNullOrWhiteSpace(host) && (host.Contains('/') || host.Trim().Contains(' ')))
            {
                errors.Add($"Grace:Http:AllowedHosts:{i} ('{host}') is not a host name (grace.example.com or grace.example.com:8443).");
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
