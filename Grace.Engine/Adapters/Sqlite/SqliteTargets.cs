using Grace.Data;
using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Targets;
using Grace.Engine.Verify;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace Grace.Engine.Adapters.Sqlite;

/// <summary>The settings of a SQLite target: its database file, made absolute.</summary>
public sealed record SqliteTarget(string Path);

/// <summary>
/// A SQLite database file on this machine (<c>Path</c>, relative to the content root), or Grace's
/// own (<c>UseGraceDatabase</c>). Busy and locked databases are transient, as are I/O hiccups; a
/// missing file is not.
/// </summary>
public sealed class SqliteKind(PathResolver paths, GraceDatabaseInfo database) : TargetKindAdapter<SqliteKind.Options>
{
    public static readonly TargetKind Id = new("Sqlite");

    public override TargetKind Kind => Id;

    public override bool IsHostBound => true;

    protected override TargetSettings Resolve(string key, Options options)
    {
        if (options.UseGraceDatabase)
        {
            // One configuration file serves both: on a server database this target simply has nothing to do.
            return database.SqliteFilePath is { } own
                ? TargetSettings.Of(new SqliteTarget(own))
                : new TargetSettings(null, Idle: $"is Grace's own SQLite database, but Grace keeps its data in {database.Provider}");
        }

        return string.IsNullOrWhiteSpace(options.Path)
            ? TargetSettings.Without("Path", "is required for a Sqlite target")
            : TargetSettings.Of(new SqliteTarget(paths.Resolve(options.Path)));
    }

    public override bool IsTransient(Exception exception) => exception switch
    {
        SqliteException sqlite => sqlite.SqliteErrorCode is 5 or 6, // SQLITE_BUSY, SQLITE_LOCKED
        FileNotFoundException or DirectoryNotFoundException => false,
        IOException => true,
        _ => false,
    };

    /// <summary><c>Grace:Targets:&lt;key&gt;</c> of a Sqlite target.</summary>
    public sealed class Options
    {
        /// <summary>The database file, relative to the content root unless absolute.</summary>
        public string? Path { get; set; }

        /// <summary>Grace's own database (when it is SQLite).</summary>
        public bool UseGraceDatabase { get; set; }
    }
}

/// <summary><c>sqlite.wal-bytes</c>: size of a SQLite database's <c>-wal</c> file (0 when there is none).</summary>
public sealed class SqliteWalBytesProbe : Probe<NoParameters>
{
    public override string Key => "sqlite.wal-bytes";
    public override string Unit => "bytes";
    public override IReadOnlySet<TargetKind> TargetKinds { get; } = KindSets.Of(SqliteKind.Id);

    protected override Task<double> ReadAsync(ProbeRequest request, NoParameters p, CancellationToken cancellationToken) =>
        Task.FromResult((double)SqliteCheckpointExecutor.WalBytes(request.Target.Settings<SqliteTarget>().Path));
}

/// <summary><c>sqlite.file-bytes</c>: size of a SQLite database file.</summary>
public sealed class SqliteFileBytesProbe : Probe<NoParameters>
{
    public override string Key => "sqlite.file-bytes";
    public override string Unit => "bytes";
    public override IReadOnlySet<TargetKind> TargetKinds { get; } = KindSets.Of(SqliteKind.Id);

    protected override Task<double> ReadAsync(ProbeRequest request, NoParameters p, CancellationToken cancellationToken) =>
        Task.FromResult((double)new FileInfo(request.Target.Settings<SqliteTarget>().Path).Length);
}

/// <summary>Times a query on the target's SQLite file, opened read-only.</summary>
public sealed class SqliteBenchmark : Verify.Benchmarks.DatabaseBenchmark
{
    public override string Kind => "Sqlite";
    public override TargetKind TargetKind => SqliteKind.Id;

    protected override System.Data.Common.DbConnection Open(ResolvedTarget target) =>
        new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = target.Settings<SqliteTarget>().Path, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
}

public static class SqliteTargetsExtensions
{
    /// <summary>The Sqlite kind: checkpoint and vacuum, WAL and file sizes, query benchmarks.</summary>
    public static IServiceCollection AddSqliteTargets(this IServiceCollection services)
    {
        services.AddSingleton<ITargetKindAdapter, SqliteKind>();
        services.AddSingleton<IRemediationExecutor, SqliteCheckpointExecutor>();
        services.AddSingleton<IRemediationExecutor, SqliteVacuumExecutor>();
        services.AddSingleton<IProbe, SqliteWalBytesProbe>();
        services.AddSingleton<IProbe, SqliteFileBytesProbe>();
        services.AddSingleton<Verify.Benchmarks.IBenchmarkSampler, SqliteBenchmark>();
        services.AddSingleton<Faults.IFaultDemo, WalGrowthFault>();
        return services;
    }
}
