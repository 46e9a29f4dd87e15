using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Targets;
using Grace.Engine.Verify;
using Grace.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Registry;

namespace Grace.Tests.Integration;

/// <summary>The per-target breaker of Grace's outbound calls, tripped for real and reset by the executor.</summary>
public sealed class BreakerTests
{
    [Fact]
    public async Task A_tripped_breaker_reads_open_and_the_reset_closes_it()
    {
        await using var provider = TestResilience.Services();
        var breakers = provider.GetRequiredService<TargetBreakers>();
        var resilience = provider.GetRequiredService<ActionResilience>();
        var target = TestTargets.Http("stock-api", "http://127.0.0.1:9");
        var probe = new BreakerStateProbe(breakers);
        Assert.Equal(0, await probe.ReadAsync(new ProbeRequest(target, new Dictionary<string, string>(), null), default));

        var pipeline = resilience.ForAction("stock-api");
        for (var i = 0; i < 4; i++)
        {
            await Assert.ThrowsAsync<InvalidOperationException>(() => pipeline.ExecuteAsync<int>(_ => throw new InvalidOperationException("admin endpoint broken")).AsTask());
        }

        Assert.Equal(1, await probe.ReadAsync(new ProbeRequest(target, new Dictionary<string, string>(), null), default));
        await Assert.ThrowsAsync<Polly.CircuitBreaker.BrokenCircuitException>(() => pipeline.ExecuteAsync<int>(_ => ValueTask.FromResult(1)).AsTask());

        var executor = new ResetBreakerAction(breakers);
        var request = new ActionRequest(Guid.NewGuid(), target, new Dictionary<string, string>());
        var snapshot = await executor.SnapshotAsync(request, default);
        Assert.Contains("Open", snapshot.Summary);
        var result = await executor.ExecuteAsync(request, snapshot, default);
        Assert.Contains("Open → Closed", result.Message);
        Assert.Equal(0, await probe.ReadAsync(new ProbeRequest(target, new Dictionary<string, string>(), null), default));
        Assert.Equal(1, await pipeline.ExecuteAsync(_ => ValueTask.FromResult(1)));
    }
}
