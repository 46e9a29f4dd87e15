using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;

namespace Grace.Benchmarks;

/// <summary>
/// <c>dotnet run -c Release --project Grace.Benchmarks -- [micro|load|faults|otlp|circuits|cluster|chaos|all] [options]</c>
/// <list type="bullet">
/// <item><c>load</c>: <c>--scale 1.0</c>, <c>--soak-minutes 3</c>, <c>--load-phases all|latency|http</c> (<c>latency</c>: only capture → action and memory; <c>http</c>: only the HTTP figures; for quick iterations), <c>--capture-flush OncePerBatch|EveryBatch|WithNextCommit</c> (Grace:Engine:CaptureFlush; Grace's default when omitted), <c>--http-in-flight 64</c> (requests in flight, each on its own connection, in the HTTP phase), <c>--noise-rate 100000</c> (signals/s streamed in while the latency probes run; 0 gives the path's own latency), <c>--warm-up-probes 100</c> (probes sent and not counted before the latency phase, so that the mission path runs optimized code; their figures are printed on their own; 20 before 2026-12-02), <c>--allocations</c> (prints which types the latency phase and the single-signal POSTs allocate most, from the runtime's allocation samples)</item>
/// <item><c>faults</c>: <c>--fault-runs 5</c></item>
/// <item><c>circuits</c>: <c>--circuits 200</c>, <c>--page /</c>, <c>--workstation-gc</c>, <c>--deflate</c> (offer WebSocket compression as browsers do), <c>--seed-incidents 0</c> (incidents stored before the circuits open, so list pages have rows), <c>--seed-missions 0</c> (finished tier-0 missions), <c>--seed-approvals 0</c> (tier-2 missions waiting for approval); <c>--page /missions/{first}</c> or <c>/incidents/{first}</c> opens the first seeded mission or its incident, <c>--seed-audit 0</c> (audit entries written into the database for the Audit list), <c>--zone Europe/Berlin</c> (the circuits name a time zone as browsers do), <c>--negotiate-per-circuit</c> (each circuit negotiates over a connection of its own and leaves it idle, as the harness did before 2026-12-01's shell change; a browser's tabs share a pool)</item>
/// <item><c>otlp</c>: <c>--otlp-requests 400</c>, <c>--otlp-batch 500</c> (OTLP/HTTP logs next to the JSON batch endpoint)</item>
/// <item><c>cluster</c>: <c>--kills 20</c>, <c>--sweep-seconds 5</c>, <c>--slow-action-seconds 5</c>, <c>--latency-seconds 60</c>, <c>--throughput-seconds 30</c>, <c>--playbooks-per-target 4</c></item>
/// <item><c>chaos</c>: <c>--chaos-rounds 20</c>, <c>--chaos-scenarios all|standalone|cluster</c>, <c>--sweep-seconds 5</c>, <c>--settle-seconds 180</c>, <c>--chaos-tail-seconds 3</c> (the stream after the last kill; with <c>--chaos-rounds 0</c>, a control run without kills)</item>
/// </list>
/// <c>all</c> runs micro, load and faults; <c>cluster</c> and <c>chaos</c> run only when named (they start several Grace processes and a PostgreSQL database).
/// </summary>
public static class BenchmarkProgram
{
    public static async Task<int> Main(string[] args)
    {
        var mode = args.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal)) ?? "all";
        var scale = Option(args, "--scale", 1.0);
        var soak = TimeSpan.FromMinutes(Option(args, "--soak-minutes", 3.0));
        var sweep = Option(args, "--sweep-seconds", 5);

        Harness.Interruption.StopEverythingOnSignals();
        Console.WriteLine($"Grace benchmarks on {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}, {DateTime.UtcNow:u}");
        Console.WriteLine($"Command: dotnet run -c Release --project Grace.Benchmarks -- {string.Join(' ', args)}");
        if (mode is "micro" or "all")
        {
            BenchmarkRunner.Run<SignalCosts>(DefaultConfig.Instance.AddJob(Job.ShortRun).WithOptions(ConfigOptions.DisableOptimizationsValidator));
        }

        if (mode is "load" or "all")
        {
            var phases = args.SkipWhile(a => a != "--load-phases").Skip(1).FirstOrDefault() ?? "all";
            if (phases is not ("all" or "latency" or "http"))
            {
                Console.Error.WriteLine("--load-phases is all, latency or http.");
                return 2;
            }

            await new LoadDriver(Console.Out, scale, soak, latencyOnly: phases == "latency", captureFlush: args.SkipWhile(a => a != "--capture-flush").Skip(1).FirstOrDefault(), httpOnly: phases == "http", inFlight: (int)Option(args, "--http-in-flight", 64), noiseRate: (int)Option(args, "--noise-rate", 100_000), warmUpProbes: (int)Option(args, "--warm-up-probes", 100), sampleAllocations: args.Contains("--allocations")).RunAsync();
        }

        if (mode is "circuits")
        {
            await new CircuitDriver(Console.Out, (int)Option(args, "--circuits", 200), args.SkipWhile(a => a != "--page").Skip(1).FirstOrDefault() ?? "/", args.Contains("--workstation-gc"), args.Contains("--deflate"), (int)Option(args, "--seed-incidents", 0), (int)Option(args, "--seed-audit", 0), args.SkipWhile(a => a != "--zone").Skip(1).FirstOrDefault(), args.Contains("--negotiate-per-circuit"))
            {
                PageSeeds = new CircuitPageSeeds((int)Option(args, "--seed-missions", 0), (int)Option(args, "--seed-approvals", 0)),
            }.RunAsync();
        }

        if (mode is "faults" or "all")
        {
            await new FaultDriver(Console.Out, (int)Option(args, "--fault-runs", 5)).RunAsync();
        }

        if (mode is "otlp")
        {
            await new OtlpDriver(Console.Out, (int)Option(args, "--otlp-requests", 400), (int)Option(args, "--otlp-batch", 500)).RunAsync();
        }

        if (mode is "cluster")
        {
            await new ClusterDriver(Console.Out, new ClusterSettings(
                Kills: (int)Option(args, "--kills", 20),
                SweepSeconds: sweep,
                SlowAction: TimeSpan.FromSeconds(Option(args, "--slow-action-seconds", 5)),
                LatencyPhase: TimeSpan.FromSeconds(Option(args, "--latency-seconds", 60)),
                ThroughputPhase: TimeSpan.FromSeconds(Option(args, "--throughput-seconds", 30)),
                ThroughputWarmUp: TimeSpan.FromSeconds(Math.Min(5, Option(args, "--throughput-seconds", 30) / 5)),
                PlaybooksPerTarget: (int)Option(args, "--playbooks-per-target", 4))).RunAsync();
        }

        if (mode is "chaos")
        {
            var scenarios = args.SkipWhile(a => a != "--chaos-scenarios").Skip(1).FirstOrDefault() ?? "all";
            if (scenarios is not ("all" or "standalone" or "cluster"))
            {
                Console.Error.WriteLine("--chaos-scenarios is all, standalone or cluster.");
                return 2;
            }

            await new ChaosDriver(Console.Out, new ChaosSettings(
                Rounds: (int)Option(args, "--chaos-rounds", 20),
                SweepSeconds: sweep,
                SettleTimeout: TimeSpan.FromSeconds(Option(args, "--settle-seconds", 180)),
                Scenarios: scenarios,
                Tail: TimeSpan.FromSeconds(Option(args, "--chaos-tail-seconds", 3)))).RunAsync();
        }

        return 0;
    }

    private static double Option(string[] args, string name, double fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length && double.TryParse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture, out var v) ? v : fallback;
    }
}
