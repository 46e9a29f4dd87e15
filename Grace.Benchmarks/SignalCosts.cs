using System.Threading.Channels;
using BenchmarkDotNet.Attributes;
using Grace.Data.Entities;
using Grace.Engine.Capture;
using Grace.Engine.Configuration;
using Grace.Engine.Diagnose;
using Microsoft.Extensions.Options;

namespace Grace.Benchmarks;

/// <summary>Per-signal costs of capture, each next to its baseline.</summary>
[MemoryDiagnoser]
public class SignalCosts
{
    private readonly Signal _structured = new("Grace.Engine.Missions.MissionRunner", "Advancing mission 01a2 failed", Severity.Error, DateTimeOffset.UtcNow,
        MessageTemplate: "Advancing mission {MissionId} failed", ExceptionType: "System.TimeoutException");
    private readonly Signal _plain = new("orders-api", "Timeout after 30000 ms calling 10.0.3.17:5432 for order 7c9e6679-7425-40de-944b-e07fc1f90ae7 at 2026-11-24T03:00:00Z",
        Severity.Error, DateTimeOffset.UtcNow, ExceptionType: "Npgsql.NpgsqlException");
    private readonly PatternOptions _pattern = new() { ExceptionType = "NpgsqlException", MessageRegex = "Timeout after", Source = "orders" };
    private readonly Channel<Signal> _bare = Channel.CreateBounded<Signal>(new BoundedChannelOptions(1024) { SingleReader = true });
    private SignalIntake _intake = null!;

    [GlobalSetup]
    public void Setup() => _intake = new SignalIntake(Options.Create(new EngineOptions { CaptureBufferCapacity = 1024 }));

    [Benchmark(Baseline = true, Description = "bare Channel<T> write+read")]
    public Signal? ChannelWriteRead()
    {
        _bare.Writer.TryWrite(_structured);
        _bare.Reader.TryRead(out var s);
        return s;
    }

    [Benchmark(Description = "Grace intake write+read")]
    public Signal? IntakeWriteRead()
    {
        _intake.TryWrite(_structured);
        _intake.TryTake(out var s);
        return s;
    }

    [Benchmark(Description = "fingerprint, structured template")]
    public string FingerprintStructured() => Fingerprinter.Compute(_structured);

    [Benchmark(Description = "fingerprint, plain message (normalised)")]
    public string FingerprintPlain() => Fingerprinter.Compute(_plain);

    [Benchmark(Description = "pattern match")]
    public bool PatternMatch() => Sentinel.Matches(_pattern, _plain);
}
