using Grace.Engine.Adapters.Unleash;
using Grace.Engine.Execute;
using Grace.Engine.Targets;
using Grace.Engine.Verify;

namespace Grace.Tests.Adapters.Unleash;

/// <summary>
/// <c>unleash.set-flag</c> turning a flag off on a real Unleash server, read as SDKs are served it
/// (after Unleash's client cache); the rollback turns it on again; the admin token never shows.
/// </summary>
public sealed class UnleashSetFlagContract : AdapterContractTests
{
    private string _flag = "";
    private string _clientToken = "";

    protected override IRemediationExecutor Action { get; } = new SetUnleashFlagAction(UnleashServer.Api());
    protected override IProbe Probe { get; } = new UnleashFlagProbe(UnleashServer.Api());
    protected override IReadOnlyDictionary<string, string> Parameters => new Dictionary<string, string> { ["Flag"] = _flag, ["Enabled"] = "false" };
    protected override IReadOnlyDictionary<string, string> ProbeParameters => new Dictionary<string, string> { ["Flag"] = _flag };
    protected override string Secret => UnleashServer.AdminToken;

    // SDKs are served from Unleash's client cache, which lags a change by a few seconds.
    protected override TimeSpan Propagation => TimeSpan.FromSeconds(20);

    public override async Task InitializeAsync()
    {
        _clientToken = await UnleashServer.ClientTokenAsync();
        // The flag's name is in the parameters, which the suite reads before it breaks the target.
        _flag = await UnleashServer.CreateFlagAsync(enabled: true);
    }

    protected override async Task<ResolvedTarget> BreakAsync()
    {
        var target = UnleashServer.Target("flags", _clientToken);
        await UnleashServer.SetAsync(_flag, true);
        await UnleashServer.ServedAsync(target, _flag, enabled: true);
        return target;
    }

    protected override ResolvedTarget Unreachable() =>
        UnleashServer.Target("flags", _clientToken, new Uri($"http://127.0.0.1:{Infrastructure.TestCatalog.FreeLoopbackPort()}/"));

    protected override bool Healed(double reading) => reading == 0;
}
