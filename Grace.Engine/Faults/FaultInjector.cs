using System.Collections.Concurrent;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Missions;
using Grace.Engine.Supervision;
using Grace.Engine.Targets;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Faults;

/// <summary>Whether the fault-injection demo is on (<c>Grace:Faults:Enabled</c>; on by default in Development).</summary>
public sealed class FaultOptions
{
    public const string Section = "Grace:Faults";

    public bool Enabled { get; set; }

    /// <summary>
    /// The Http target Grace serves itself as a demo service (a health endpoint, an orders endpoint
    /// and an admin endpoint) on its loopback Url, so the health-endpoint fault has a real endpoint to break.
    /// </summary>
    public string DemoServiceTarget { get; set; } = "demo-orders-api";
}

/// <summary>The faults Grace can inject into its own demo targets.</summary>
public enum FaultKind
{
    /// <summary>Grows a SQLite database's write-ahead log and keeps a connection on it.</summary>
    SqliteWalGrowth,
    /// <summary>Fills a cache folder (under the cache roots) with files.</summary>
    CacheFill,
    /// <summary>Kills a supervised process from outside, as a crash would.</summary>
    ProcessCrash,
    /// <summary>Holds an exclusive lock on a PostgreSQL table (<c>grace_fault_lock</c>) in an idle transaction, with a second session waiting on it.</summary>
    PostgresLockHold,
    /// <summary>Stops a supervised process with SIGSTOP, as a hang would: it stays alive and does nothing.</summary>
    ProcessHang,
    /// <summary>Puts the demo service in a stuck state where its health endpoint answers 503 until its admin reset is called.</summary>
    HealthEndpointFailure,
    /// <summary>Kills a container through its engine (SIGKILL), as a crash would.</summary>
    ContainerKill,
    /// <summary>Freezes a container's main process (SIGSTOP): it still runs, and its HEALTHCHECK turns unhealthy.</summary>
    ContainerUnhealthy,
}

/// <summary>A target kind's faults for the demo: which it handles, why a target cannot take one now, and how to inject it.</summary>
public interface IFaultHook
{
    bool Handles(FaultKind kind);

    string? Unavailable(FaultKind kind, ResolvedTarget target);

    Task<string> InjectAsync(FaultKind kind, ResolvedTarget target, CancellationToken cancellationToken);
}

/// <summary>What a fault does, for people choosing one, and the kind of target it breaks.</summary>
public sealed record FaultInfo(FaultKind Kind, string Title, string Description, TargetKind TargetKind, bool HasSize);

/// <summary>A target a fault could be injected into, or why it cannot be now.</summary>
public sealed record FaultTarget(string Key, string? Description, string? Unavailable);

/// <summary>
/// Injects real faults into real local targets so a person can watch Grace notice and heal them.
/// Admins only, off unless enabled, audited. It never touches a target outside its kind's rules
/// (cache files only under the cache roots).
/// </summary>
public sealed class FaultInjector(
    IOptionsMonitor<FaultOptions> options,
    TargetRegistry targets,
    CacheRoots cacheRoots,
    ProcessSupervisor supervisor,
    DemoService demoService,
    IDbContextFactory<GraceDbContext> dbFactory,
    Cluster.GraceInstance instance,
    IEnumerable<IFaultHook> hooks,
    TimeProvider time) : IAsyncDisposable
{
    private readonly ConcurrentBag<SqliteConnection> _held = [];
    private readonly ConcurrentBag<Npgsql.NpgsqlConnection> _heldPostgres = [];

    public bool Enabled => options.CurrentValue.Enabled;

    public static IReadOnlyList<FaultInfo> Kinds { get; } =
    [
        new(FaultKind.SqliteWalGrowth, "Grow a SQLite write-ahead log", "Writes rows with automatic checkpoints off and keeps a connection open, so the -wal file grows to the size you choose.", TargetKind.Sqlite, true),
        new(FaultKind.CacheFill, "Fill a cache folder", "Writes files of 1 MiB into a folder under the cache roots until it holds the size you choose.", TargetKind.Directory, true),
        new(FaultKind.ProcessCrash, "Crash a supervised process", "Kills the process from outside, as a crash would; the supervisor reports the exit.", TargetKind.Process, false),
        new(FaultKind.ProcessHang, "Hang a supervised process", "Stops the process with SIGSTOP: it stays alive but does nothing, and only its health check (its heartbeat) can tell.", TargetKind.Process, false),
        new(FaultKind.HealthEndpointFailure, "Make a health endpoint fail", "Puts Grace's demo orders service in a stuck state: /health and /orders answer 503 until its admin reset is called.", TargetKind.Http, false),
        new(FaultKind.PostgresLockHold, "Hold a lock in PostgreSQL", "Takes an exclusive lock on grace_fault_lock in an idle transaction, with a second session waiting on it.", TargetKind.Postgres, false),
        new(FaultKind.ContainerKill, "Kill a container", "Kills the container's processes through its engine (SIGKILL), as a crash would; the engine's event stream reports the death.", TargetKind.Container, false),
        new(FaultKind.ContainerUnhealthy, "Make a container unhealthy", "Freezes the container's main process (SIGSTOP): it still runs, and its HEALTHCHECK, which asks the process, turns unhealthy.", TargetKind.Container, false),
    ];

    private static FaultInfo InfoOf(FaultKind kind) => Kinds.FirstOrDefault(k => k.Kind == kind)
        ?? throw new MissionOperationException($"'{kind}' is not a fault; use one of {string.Join(", ", Kinds.Select(k => k.Kind))}.");

    /// <summary>The configured targets a fault applies to, each with the reason it cannot be broken now, if any.</summary>
    public IReadOnlyList<FaultTarget> TargetsFor(FaultKind kind)
    {
        var info = InfoOf(kind);
        var result = new List<FaultTarget>();
        foreach (var key in targets.Keys.Order(StringComparer.OrdinalIgnoreCase))
        {
            var target = targets.Resolve(key);
            if (target.Kind != info.TargetKind)
            {
                continue;
            }

            var unavailable = targets.Unconfigured(key) ?? ElsewhereInCluster(target) ?? (kind switch
            {
                FaultKind.CacheFill when target.Path is null || cacheRoots.RootOf(Path.TrimEndingDirectorySeparator(target.Path)) is null => "Not under a cache root.",
                FaultKind.ProcessCrash or FaultKind.ProcessHang when supervisor.ProcessOf(key) is null => "Not running.",
                FaultKind.HealthEndpointFailure => DemoServiceUnavailable(key),
                _ => hooks.FirstOrDefault(h => h.Handles(kind))?.Unavailable(kind, target),
            });
            result.Add(new FaultTarget(key, target.Description, unavailable));
        }

        return result;
    }

    /// <summary>A fault on a host-bound target is made on its own machine: from the console of the instance it lives on.</summary>
    private string? ElsewhereInCluster(ResolvedTarget target) => target.Options is { } options && !instance.Owns(options)
        ? $"It lives on instance '{instance.InstanceOf(options)}'; break it from the console of that instance (this is {instance.Name})."
        : null;

    /// <summary>The size a sized fault uses when none is given, in MiB.</summary>
    public const int DefaultMegabytes = 8;

    /// <summary>
    /// Injects a fault and returns what was done. A refusal (not an Admin, a target the fault does
    /// not apply to, a size out of range) is a <see cref="MissionOperationException"/> and is audited too.
    /// </summary>
    public async Task<string> InjectAsync(FaultKind kind, string targetKey, int? megabytes, Actor actor, CancellationToken cancellationToken)
    {
        if (!Enabled)
        {
            throw new MissionOperationException("Fault injection is off (Grace:Faults:Enabled).");
        }

        string result;
        try
        {
            result = await InjectCheckedAsync(kind, targetKey, megabytes, actor, cancellationToken);
        }
        catch (MissionOperationException ex)
        {
            await AuditAsync(actor, "fault.inject-refused", targetKey, $"{kind}: {ex.Message}", cancellationToken);
            throw;
        }

        await AuditAsync(actor, "fault.inject", targetKey, $"{kind}: {result}", cancellationToken);
        return result;
    }

    private async Task<string> InjectCheckedAsync(FaultKind kind, string targetKey, int? megabytes, Actor actor, CancellationToken cancellationToken)
    {
        if (!actor.Roles.Contains(GraceRoles.Admin))
        {
            throw new MissionOperationException($"{actor.Name} may not inject faults: it needs the Admin role.", forbidden: true);
        }

        var info = InfoOf(kind);
        if (!targets.TryResolve(targetKey, out var target))
        {
            var candidates = TargetsFor(kind).Select(t => t.Key).ToList();
            throw new MissionOperationException($"Target '{targetKey}' is not configured under Grace:Targets; {kind} applies to "
                + (candidates.Count == 0 ? $"no configured target (it needs a {info.TargetKind} target)." : $"{string.Join(", ", candidates)}."));
        }

        if ((targets.Unconfigured(targetKey) ?? ElsewhereInCluster(target)) is { } unavailable)
        {
            throw new MissionOperationException(unavailable);
        }

        var size = megabytes ?? DefaultMegabytes;
        if (info.HasSize && size is < 1 or > 512)
        {
            throw new MissionOperationException($"megabytes must be between 1 and 512 for {kind} (it is {size}).");
        }

        return (kind, target.Kind) switch
        {
            (FaultKind.SqliteWalGrowth, TargetKind.Sqlite) => await GrowWalAsync(target, size, cancellationToken),
            (FaultKind.CacheFill, TargetKind.Directory) => await FillCacheAsync(target, size, cancellationToken),
            (FaultKind.ProcessCrash, TargetKind.Process) => Crash(target),
            (FaultKind.PostgresLockHold, TargetKind.Postgres) => await HoldLockAsync(target, cancellationToken),
            (FaultKind.ProcessHang, TargetKind.Process) => Hang(target),
            (FaultKind.HealthEndpointFailure, TargetKind.Http) => BreakDemoService(target),
            _ when target.Kind == info.TargetKind && hooks.FirstOrDefault(h => h.Handles(kind)) is { } hook => await hook.InjectAsync(kind, target, cancellationToken),
            _ => throw new MissionOperationException($"Fault {kind} does not apply to '{targetKey}', a {target.Kind} target; it needs a {info.TargetKind} target."),
        };
    }

    private async Task AuditAsync(Actor actor, string action, string targetKey, string detail, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        // Whatever a caller typed is cut to the columns' sizes: a refusal must be recorded, not fail.
        db.AuditEntries.Add(new AuditEntry
        {
            At = time.GetUtcNow(), Actor = actor.Name, Action = action, Subject = Cut($"target/{targetKey}", 256), Detail = Cut(detail, 4096), RemoteAddress = actor.RemoteAddress,
        });
        await db.SaveChangesAsync(cancellationToken);
    }

    private async Task<string> GrowWalAsync(ResolvedTarget target, int megabytes, CancellationToken cancellationToken)
    {
        var path = target.Path ?? throw new MissionOperationException($"Target '{target.Key}' has no SQLite file.");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        // The connection stays open (and is kept) so SQLite does not fold the log back when it closes.
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        await connection.OpenAsync(cancellationToken);
        await using (var setup = connection.CreateCommand())
        {
            setup.CommandText = "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; CREATE TABLE IF NOT EXISTS fault_rows(id INTEGER PRIMARY KEY, body TEXT);";
            await setup.ExecuteNonQueryAsync(cancellationToken);
        }

        var target64 = megabytes * 1024L * 1024;
        while (SqliteCheckpointExecutor.WalBytes(path) < target64)
        {
            await using var insert = connection.CreateCommand();
            insert.CommandText = "INSERT INTO fault_rows(body) VALUES ($body);";
            var body = insert.Parameters.Add("$body", SqliteType.Text);
            await using var tx = await connection.BeginTransactionAsync(cancellationToken);
            insert.Transaction = (SqliteTransaction)tx;
            for (var i = 0; i < 200; i++)
            {
                body.Value = new string('x', 4000);
                await insert.ExecuteNonQueryAsync(cancellationToken);
            }

            await tx.CommitAsync(cancellationToken);
        }

        _held.Add(connection);
        return $"WAL of {Path.GetFileName(path)} grown to {SqliteCheckpointExecutor.WalBytes(path):N0} bytes.";
    }

    private async Task<string> FillCacheAsync(ResolvedTarget target, int megabytes, CancellationToken cancellationToken)
    {
        var folder = target.Path ?? throw new MissionOperationException($"Target '{target.Key}' has no Path.");
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder));
        if (cacheRoots.RootOf(full) is null)
        {
            throw new MissionOperationException($"{full} is not under a cache root; the demo only fills cache folders.");
        }

        Directory.CreateDirectory(full);
        // The files are written beside the folder and then renamed into it, so the folder goes from
        // empty to full at once: a snapshot taken halfway would see a cache that is still changing,
        // and an approval given against it would be void by the time the action runs.
        var staging = Directory.CreateDirectory(Path.Combine(Path.GetDirectoryName(full)!, $".grace-fill-{Guid.NewGuid():N}"));
        try
        {
            var block = new byte[1024 * 1024];
            var stamp = time.GetUtcNow().ToString("yyyyMMddHHmmss", System.Globalization.CultureInfo.InvariantCulture);
            for (var i = 0; i < megabytes; i++)
            {
                await File.WriteAllBytesAsync(Path.Combine(staging.FullName, $"fault-{stamp}-{i}.bin"), block, cancellationToken);
            }

            foreach (var file in staging.EnumerateFiles())
            {
                file.MoveTo(Path.Combine(full, file.Name), overwrite: true);
            }
        }
        finally
        {
            staging.Delete(recursive: true);
        }

        return $"Wrote {megabytes} MiB into {full}.";
    }

    private async Task<string> HoldLockAsync(ResolvedTarget target, CancellationToken cancellationToken)
    {
        var cs = new Npgsql.NpgsqlConnectionStringBuilder(target.ConnectionString ?? throw new MissionOperationException($"Target '{target.Key}' has no ConnectionString."))
        {
            Pooling = false,
            ApplicationName = "grace-fault-lock-holder",
        }.ConnectionString;
        var holder = new Npgsql.NpgsqlConnection(cs);
        await holder.OpenAsync(cancellationToken);
        // The table is committed on its own first: inside the locking transaction the waiter could not see it.
        await using (var create = new Npgsql.NpgsqlCommand("CREATE TABLE IF NOT EXISTS grace_fault_lock(id int)", holder))
        {
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var begin = new Npgsql.NpgsqlCommand("BEGIN", holder))
        {
            await begin.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var lockTable = new Npgsql.NpgsqlCommand("LOCK TABLE grace_fault_lock IN ACCESS EXCLUSIVE MODE", holder))
        {
            await lockTable.ExecuteNonQueryAsync(cancellationToken);
        }

        // A second session waits on the lock, as an application's query would.
        var waiter = new Npgsql.NpgsqlConnection(new Npgsql.NpgsqlConnectionStringBuilder(cs) { ApplicationName = "grace-fault-waiter" }.ConnectionString);
        await waiter.OpenAsync(cancellationToken);
        _ = new Npgsql.NpgsqlCommand("SELECT count(*) FROM grace_fault_lock", waiter) { CommandTimeout = 600 }.ExecuteScalarAsync(CancellationToken.None)
            .ContinueWith(_ => waiter.Dispose(), TaskScheduler.Default);
        _heldPostgres.Add(holder);
        return $"Holding an exclusive lock on grace_fault_lock of '{target.Key}' (pid {holder.ProcessID}); a second session waits on it.";
    }

    private string Crash(ResolvedTarget target)
    {
        var process = supervisor.ProcessOf(target.Key) ?? throw new MissionOperationException($"'{target.Key}' is not running.");
        var pid = process.Id;
        process.Kill(entireProcessTree: true);
        return $"Killed pid {pid} of '{target.Key}'.";
    }

    private string Hang(ResolvedTarget target)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new MissionOperationException("The hang fault stops the process with SIGSTOP, which Grace sends on Linux only.");
        }

        var process = supervisor.ProcessOf(target.Key) ?? throw new MissionOperationException($"'{target.Key}' is not running.");
        if (NativeMethods.Kill(process.Id, NativeMethods.SigStop) != 0)
        {
            throw new MissionOperationException($"SIGSTOP to pid {process.Id} of '{target.Key}' failed (errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}).");
        }

        return $"Stopped pid {process.Id} of '{target.Key}' with SIGSTOP: it is alive but does nothing until it is restarted.";
    }

    private string BreakDemoService(ResolvedTarget target)
    {
        if (DemoServiceUnavailable(target.Key) is { } unavailable)
        {
            throw new MissionOperationException(unavailable);
        }

        demoService.Fail("the orders store connection pool is exhausted");
        return $"The demo service at {target.Url} is stuck: its health endpoint answers 503 until POST /admin/reset-pool.";
    }

    private static string Cut(string text, int length) => text.Length <= length ? text : text[..(length - 1)] + "…";

    /// <summary>Why a target's health endpoint cannot be broken: only the demo service Grace serves itself, while it listens.</summary>
    private string? DemoServiceUnavailable(string key)
    {
        var demo = options.CurrentValue.DemoServiceTarget;
        if (!string.Equals(key, demo, StringComparison.OrdinalIgnoreCase))
        {
            return $"'{key}' is not Grace's demo service (Grace:Faults:DemoServiceTarget is '{demo}'): Grace only breaks an endpoint it serves itself.";
        }

        return demoService.IsListening ? null : $"The demo service '{key}' is not listening: see Grace's start-up log about Grace:Targets:{key}:Url.";
    }

    /// <summary>Closes the connections the WAL fault keeps open.</summary>
    public async ValueTask DisposeAsync()
    {
        while (_held.TryTake(out var connection))
        {
            await connection.DisposeAsync();
        }

        while (_heldPostgres.TryTake(out var connection))
        {
            await connection.DisposeAsync();
        }
    }
}
