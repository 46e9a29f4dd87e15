using System.Data.Common;
using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Targets;
using Grace.Engine.Verify;
using Grace.Engine.Verify.Benchmarks;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Grace.Engine.Adapters.Postgres;

/// <summary>The settings of a PostgreSQL target. Its text never shows the connection string (it may hold a password).</summary>
public sealed record PostgresTarget(string ConnectionString)
{
    public override string ToString() => "PostgresTarget { ConnectionString = *** }";
}

/// <summary>A PostgreSQL database reachable from any instance (<c>ConnectionString</c>). Npgsql says which of its failures are transient.</summary>
public sealed class PostgresKind : TargetKindAdapter<PostgresKind.Options>
{
    public static readonly TargetKind Id = new("Postgres");

    public override TargetKind Kind => Id;

    protected override TargetSettings Resolve(string key, Options options) => string.IsNullOrWhiteSpace(options.ConnectionString)
        ? TargetSettings.Without("ConnectionString", "is required for a Postgres target")
        : TargetSettings.Of(new PostgresTarget(options.ConnectionString));

    public override bool IsTransient(Exception exception) => exception is DbException { IsTransient: true } or NpgsqlException { IsTransient: true } or TimeoutException;

    /// <summary><c>Grace:Targets:&lt;key&gt;</c> of a Postgres target.</summary>
    public sealed class Options
    {
        public string? ConnectionString { get; set; }
    }
}

/// <summary>Times a query on the target's PostgreSQL database, on its own read-only session.</summary>
public sealed class PostgresBenchmark : DatabaseBenchmark
{
    public override string Kind => "Postgres";
    public override TargetKind TargetKind => PostgresKind.Id;

    protected override DbConnection Open(ResolvedTarget target) =>
        // Its own connection, outside the pool: the samples time the query, not a pool's warm-up or contention.
        // Read-only sessions: a benchmark measures, it never writes, whatever its Query says.
        new NpgsqlConnection(new NpgsqlConnectionStringBuilder(target.Settings<PostgresTarget>().ConnectionString)
        {
            Pooling = false, ApplicationName = "grace-benchmark", Options = "-c default_transaction_read_only=on",
        }.ConnectionString);
}

public static class PostgresTargetsExtensions
{
    /// <summary>The Postgres kind: ending blockers, checkpoint, vacuum, their probes, query benchmarks.</summary>
    public static IServiceCollection AddPostgresTargets(this IServiceCollection services)
    {
        services.AddSingleton<ITargetKindAdapter, PostgresKind>();
        services.AddSingleton<IRemediationExecutor, PostgresLockExecutor>();
        services.AddSingleton<IRemediationExecutor, PostgresCheckpointExecutor>();
        services.AddSingleton<IRemediationExecutor, PostgresVacuumAnalyzeExecutor>();
        services.AddSingleton<IProbe, PostgresBlockedSessionsProbe>();
        services.AddSingleton<IProbe, PostgresDeadTuplesProbe>();
        services.AddSingleton<IProbe, PostgresWalSinceCheckpointProbe>();
        services.AddSingleton<IBenchmarkSampler, PostgresBenchmark>();
        services.AddSingleton<Faults.IFaultDemo, LockHoldFault>();
        return services;
    }
}
