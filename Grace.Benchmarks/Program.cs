using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;

namespace Grace.Benchmarks;

/// <summary>
/// <c>dotnet run -c Release --project Grace.Benchmarks -- [micro|load|faults|all] [--scale 1.0] [--soak-minutes 3] [--fault-runs 5]</c>
/// </summary>
public static class BenchmarkProgram
{
    public static async Task Main(string[] args)
    {
        var mode = args.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal)) ?? "all";
        var scale = Option(args, "--scale", 1.0);
        var soak = TimeSpan.FromMinutes(Option(args, "--soak-minutes", 3.0));

        Console.WriteLine($"Grace benchmarks on {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}, {DateTime.UtcNow:u}");
        if (mode is "micro" or "all")
        {
            BenchmarkRunner.Run<SignalCosts>(DefaultConfig.Instance.AddJob(Job.ShortRun).WithOptions(ConfigOptions.DisableOptimizationsValidator));
        }

        if (mode is "load" or "all")
        {
            await new LoadDriver(Console.Out, scale, soak).RunAsync();
        }

        if (mode is "faults" or "all")
        {
            await new FaultDriver(Console.Out, (int)Option(args, "--fault-runs", 5)).RunAsync();
        }
    }

    private static double Option(string[] args, string name, double fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length && double.TryParse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture, out var v) ? v : fallback;
    }
}
