using Grace.Engine.Capture;
using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Execute.Logging;

namespace Grace.Engine.Verify;

/// <summary><c>sqlite.wal-bytes</c>: size of a SQLite database's <c>-wal</c> file (0 when there is none).</summary>
public sealed class SqliteWalBytesProbe : IProbe
{
    public string Key => "sqlite.wal-bytes";
    public string Unit => "bytes";
    public IReadOnlySet<TargetKind> TargetKinds { get; } = new HashSet<TargetKind> { TargetKind.Sqlite };

    public Task<double> ReadAsync(ProbeRequest request, CancellationToken cancellationToken) =>
        Task.FromResult((double)SqliteCheckpointExecutor.WalBytes(request.Target.Path ?? throw new InvalidOperationException($"Target '{request.Target.Key}' has no Path.")));
}

/// <summary><c>directory.bytes</c>: total size of the files under a folder, links not followed.</summary>
public sealed class DirectoryBytesProbe : IProbe
{
    public string Key => "directory.bytes";
    public string Unit => "bytes";
    public IReadOnlySet<TargetKind> TargetKinds { get; } = new HashSet<TargetKind> { TargetKind.Directory };

    public Task<double> ReadAsync(ProbeRequest request, CancellationToken cancellationToken) =>
        Task.FromResult((double)CacheDirectoryExecutor.DirectoryBytes(request.Target.Path ?? throw new InvalidOperationException($"Target '{request.Target.Key}' has no Path.")));
}

/// <summary><c>logging.level</c>: the current level of one of Grace's log sources (0 Verbose … 5 Fatal).</summary>
public sealed class LoggingLevelProbe(LogLevelController levels) : IProbe
{
    public string Key => "logging.level";
    public string Unit => "level";
    public IReadOnlySet<TargetKind> TargetKinds { get; } = new HashSet<TargetKind> { TargetKind.Grace };

    public IEnumerable<string> ValidateParameters(IReadOnlyDictionary<string, string> parameters)
    {
        if (!parameters.TryGetValue("Source", out var source) || !levels.IsControlled(source))
        {
            yield return $"Parameters:Source must name a controlled log source ({string.Join(", ", levels.Sources)}).";
        }
    }

    public Task<double> ReadAsync(ProbeRequest request, CancellationToken cancellationToken) =>
        Task.FromResult((double)(int)levels.GetLevel(request.Parameters["Source"]));
}

/// <summary>
/// <c>incident.signal-rate</c>: signals per minute of the mission's incident over the last
/// <c>WindowSeconds</c> (default 30). Below a threshold means the errors stopped.
/// </summary>
public sealed class IncidentSignalRateProbe(SignalRateTracker rates) : IProbe
{
    public string Key => "incident.signal-rate";
    public string Unit => "signals/min";
    public IReadOnlySet<TargetKind> TargetKinds { get; } = Enum.GetValues<TargetKind>().ToHashSet();

    public IEnumerable<string> ValidateParameters(IReadOnlyDictionary<string, string> parameters)
    {
        if (parameters.TryGetValue("WindowSeconds", out var w) && (!int.TryParse(w, out var s) || s < 1 || s > SignalRateTracker.MaxWindowSeconds))
        {
            yield return $"Parameters:WindowSeconds must be a whole number between 1 and {SignalRateTracker.MaxWindowSeconds}.";
        }
    }

    public Task<double> ReadAsync(ProbeRequest request, CancellationToken cancellationToken)
    {
        var window = request.Parameters.TryGetValue("WindowSeconds", out var w) ? int.Parse(w, System.Globalization.CultureInfo.InvariantCulture) : 30;
        var count = request.IncidentId is { } id ? rates.CountInLast(id, window) : 0;
        return Task.FromResult(count * 60.0 / window);
    }
}
