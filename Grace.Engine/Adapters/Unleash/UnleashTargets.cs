using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Verify;
using Microsoft.Extensions.DependencyInjection;

namespace Grace.Engine.Adapters.Unleash;

/// <summary>
/// The settings of an Unleash target: the server, the tokens Grace calls it with, and the project
/// and environment whose flags it turns on and off. Its text never shows a token.
/// </summary>
public sealed record UnleashTarget(Uri Url, string AdminToken, string? ClientToken, string Project, string Environment)
{
    public override string ToString() =>
        $"UnleashTarget {{ Url = {Url}, Project = {Project}, Environment = {Environment}, AdminToken = ***, ClientToken = {(ClientToken is null ? "none" : "***")} }}";
}

/// <summary>
/// A project and environment of an Unleash server (<c>Url</c>, <c>Project</c>, <c>Environment</c>).
/// The admin token (<c>AdminToken</c>, or <c>AdminTokenVariable</c> naming the environment variable
/// that holds it) changes flags; a client token (<c>ClientToken</c> or <c>ClientTokenVariable</c>, a
/// backend token of that environment) lets Grace read flags as SDKs are served them.
/// </summary>
public sealed class UnleashKind : TargetKindAdapter<UnleashKind.Options>
{
    public static readonly TargetKind Id = new("Unleash");

    public override TargetKind Kind => Id;

    protected override TargetSettings Resolve(string key, Options options)
    {
        var faults = new List<string>();
        Uri? url = null;
        if (options.Url is { Length: > 0 } text && (!Uri.TryCreate(text, UriKind.Absolute, out url) || url.Scheme is not ("http" or "https")))
        {
            faults.Add($"Url '{text}' is not an absolute http or https URL.");
        }

        var admin = Token(options.AdminToken, options.AdminTokenVariable, "AdminToken", faults);
        var client = Token(options.ClientToken, options.ClientTokenVariable, "ClientToken", faults);
        if (faults.Count > 0)
        {
            return new TargetSettings(null, Problems: faults);
        }

        if (url is null)
        {
            return TargetSettings.Without("Url", "is required for an Unleash target (the server's base URL, such as https://unleash.example.com/)");
        }

        if (admin.Value is null)
        {
            return admin.Variable is { } variable
                ? TargetSettings.Without("AdminTokenVariable", $"names the environment variable '{variable}', which is not set")
                : TargetSettings.Without("AdminToken", "is required for an Unleash target (an admin token or personal access token; or AdminTokenVariable, naming the environment variable that holds it)");
        }

        if (client.Variable is { } clientVariable && client.Value is null)
        {
            return TargetSettings.Without("ClientTokenVariable", $"names the environment variable '{clientVariable}', which is not set");
        }

        if (string.IsNullOrWhiteSpace(options.Environment))
        {
            return TargetSettings.Without("Environment", "is required for an Unleash target (the environment whose flags Grace turns on and off, such as production)");
        }

        // Relative API paths are resolved against the base, so a server under a path (/unleash/) keeps it.
        var baseUrl = url.AbsoluteUri.EndsWith('/') ? url : new Uri(url.AbsoluteUri + "/");
        return TargetSettings.Of(new UnleashTarget(baseUrl, admin.Value, client.Value, string.IsNullOrWhiteSpace(options.Project) ? "default" : options.Project, options.Environment));
    }

    /// <summary>A token given directly or through an environment variable, never both.</summary>
    private static (string? Value, string? Variable) Token(string? direct, string? variable, string name, List<string> faults)
    {
        if (!string.IsNullOrEmpty(direct) && !string.IsNullOrEmpty(variable))
        {
            faults.Add($"{name}Variable: give {name} or {name}Variable, not both.");
            return (null, null);
        }

        return string.IsNullOrEmpty(variable)
            ? (string.IsNullOrEmpty(direct) ? null : direct, null)
            : (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } value ? value : null, variable);
    }

    public override bool IsTransient(Exception exception) => exception is UnleashCallException { Transient: true } or HttpRequestException;

    /// <summary><c>Grace:Targets:&lt;key&gt;</c> of an Unleash target.</summary>
    public sealed class Options
    {
        public string? Url { get; set; }
        public string? AdminToken { get; set; }
        public string? AdminTokenVariable { get; set; }
        public string? ClientToken { get; set; }
        public string? ClientTokenVariable { get; set; }
        public string? Project { get; set; }
        public string? Environment { get; set; }
    }
}

public static class UnleashTargetsExtensions
{
    /// <summary>The Unleash kind: turning a flag on or off in an environment, and the flag as SDKs are served it.</summary>
    public static IServiceCollection AddUnleashTargets(this IServiceCollection services)
    {
        services.AddSingleton<ITargetKindAdapter, UnleashKind>();
        // Each call has its own limit (UnleashApi); the client's own timeout would not say which call hung.
        services.AddHttpClient(UnleashApi.HttpClientName, c => c.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AllowAutoRedirect = false, ConnectTimeout = UnleashApi.ReadLimit });
        services.AddSingleton<UnleashApi>();
        services.AddSingleton<IRemediationExecutor, SetUnleashFlagAction>();
        services.AddSingleton<IProbe, UnleashFlagProbe>();
        return services;
    }
}
