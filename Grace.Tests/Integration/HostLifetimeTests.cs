using System.Runtime.CompilerServices;
using Grace.Tests.Infrastructure;

namespace Grace.Tests.Integration;

/// <summary>
/// A Grace host that stopped leaves nothing running that keeps it in memory. A timer left running
/// (ASP.NET Core's rate-limiting middleware never stops its own) held every stopped host's whole
/// object graph, about 30 MB each: the test run grew to gigabytes and spent most of its time in
/// the garbage collector.
/// </summary>
public sealed class HostLifetimeTests
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static async Task<WeakReference> RunOneAsync()
    {
        using var folder = new TempFolder();
        await using var host = new GraceHost(TestCatalog.Settings(folder)).Start();
        using var client = host.CreateClient();
        (await client.PostAsync("/api/signals", new StringContent("{}", System.Text.Encoding.UTF8, "application/json"))).Dispose();
        return new WeakReference(host.Services);
    }

    [Fact]
    public async Task A_stopped_host_is_collected()
    {
        const int hosts = 5;
        var stopped = new List<WeakReference>();
        for (var i = 0; i < hosts; i++)
        {
            stopped.Add(await RunOneAsync());
        }

        // A stopped host's last callbacks may still be finishing on the thread pool: collect until they have.
        var until = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            if (stopped.Count(r => r.IsAlive) <= 1 || DateTime.UtcNow > until)
            {
                break;
            }

            await Task.Delay(200);
        }

        // One may stay: a thread the runtime starts once per process (the event counters' poller) keeps the
        // execution context of whichever host happened to start it. Every host beyond it must be gone.
        var alive = stopped.Count(r => r.IsAlive);
        Assert.True(alive <= 1, $"{alive} of {hosts} stopped hosts are still in memory");
    }
}
