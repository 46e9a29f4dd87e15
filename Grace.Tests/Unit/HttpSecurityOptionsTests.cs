using Grace.Web.Security;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Grace.Tests.Unit;

public sealed class HttpSecurityOptionsTests
{
    private sealed class Environment(string name) : IHostEnvironment
    {
        public string EnvironmentName { get; set; } = name;
        public string ApplicationName { get; set; } = "Grace";
        public string ContentRootPath { get; set; } = "/";
        public Microsoft.Extensions.FileProviders.IFileProvider ContentRootFileProvider { get; set; } = null!;
    }

    private static ValidateOptionsResult Validate(string environment, GraceHttpOptions options) =>
        new GraceHttpOptionsValidator(new Environment(environment)).Validate(null, options);

    [Fact]
    public void Production_needs_its_host_names_and_every_address_must_parse()
    {
        var missing = Validate("Production", new GraceHttpOptions());
        Assert.True(missing.Failed);
        Assert.Contains("Grace:Http:AllowedHosts is required in Production", missing.FailureMessage);
        Assert.True(Validate("Production", new GraceHttpOptions { AllowedHosts = ["*"] }).Failed);
        Assert.True(Validate("Production", new GraceHttpOptions { AllowedHosts = ["", " "] }).Failed);
        Assert.True(Validate("Production", new GraceHttpOptions { AllowedHosts = ["grace.example.com"] }).Succeeded);
        Assert.True(Validate("Development", new GraceHttpOptions()).Succeeded);

        var bad = Validate("Development", new GraceHttpOptions { KnownProxies = ["10.0.0.300"], KnownNetworks = ["10.0.0.0/40"], AllowedHosts = ["http://grace"] });
        Assert.Contains("Grace:Http:KnownProxies:0", bad.FailureMessage);
        Assert.Contains("Grace:Http:KnownNetworks:0", bad.FailureMessage);
        Assert.Contains("Grace:Http:AllowedHosts:0", bad.FailureMessage);
    }

    private sealed class Monitor(GraceHttpOptions value) : IOptionsMonitor<GraceHttpOptions>
    {
        public GraceHttpOptions CurrentValue => value;
        public GraceHttpOptions Get(string? name) => value;
        public IDisposable? OnChange(Action<GraceHttpOptions, string?> listener) => null;
    }

    [Fact]
    public void Connections_are_capped_per_person_and_in_total_and_a_closed_one_frees_its_slot()
    {
        var limiter = new ConnectionLimiter(new Monitor(new GraceHttpOptions { MaxCircuitsPerUser = 2, MaxCircuits = 3 }));
        var a1 = limiter.TryAcquire(ConnectionKind.Circuit, "alice", out _);
        var a2 = limiter.TryAcquire(ConnectionKind.Circuit, "alice", out _);
        Assert.NotNull(a1);
        Assert.NotNull(a2);
        Assert.Null(limiter.TryAcquire(ConnectionKind.Circuit, "alice", out var perUser));
        Assert.Contains("Grace:Http:MaxCircuitsPerUser", perUser);
        Assert.NotNull(limiter.TryAcquire(ConnectionKind.Circuit, "bob", out _));
        Assert.Null(limiter.TryAcquire(ConnectionKind.Circuit, "carol", out var total));
        Assert.Contains("Grace:Http:MaxCircuits)", total);
        // Hub connections are counted apart from circuits.
        Assert.NotNull(limiter.TryAcquire(ConnectionKind.Hub, "alice", out _));

        a1!.Dispose();
        a1.Dispose();
        Assert.Equal(2, limiter.Open(ConnectionKind.Circuit));
        Assert.Null(limiter.WhyNot(ConnectionKind.Circuit, "carol"));
        Assert.NotNull(limiter.TryAcquire(ConnectionKind.Circuit, "alice", out _));
    }
}
