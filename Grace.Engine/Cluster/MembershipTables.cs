using System.Text.Json;
using Grace.Data;
using Grace.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Orleans;
using Orleans.Runtime;

namespace Grace.Engine.Cluster;

/// <summary>
/// Orleans' membership table, chosen once at start: in Grace's own database when clustered (so a
/// cluster needs nothing beyond the database it already uses), in memory when alone.
/// </summary>
public sealed class GraceMembershipTable(GraceInstance instance, IDbContextFactory<GraceDbContext> dbFactory, TimeProvider time) : IMembershipTable
{
    private readonly IMembershipTable _inner = instance.IsClustered
        ? new DatabaseMembershipTable(dbFactory, instance.ClusterId, time)
        : new LocalMembershipTable();

#pragma warning disable CS0618 // Orleans calls the older names on some paths; both forward to the same code.
    public Task InitializeMembershipTable(bool tryInitTableVersion) => _inner.InitializeMembershipTable(tryInitTableVersion);
    public Task DeleteMembershipTableEntries(string clusterId) => _inner.DeleteMembershipTableEntries(clusterId);
    public Task CleanupDefunctSiloEntries(DateTimeOffset beforeDate) => _inner.CleanupDefunctSiloEntries(beforeDate);
    public Task<MembershipTableData> ReadRow(SiloAddress key) => _inner.ReadRow(key);
    public Task<MembershipTableData> ReadAll() => _inner.ReadAll();
    public Task<bool> InsertRow(MembershipEntry entry, TableVersion tableVersion) => _inner.InsertRow(entry, tableVersion);
    public Task<bool> UpdateRow(MembershipEntry entry, string etag, TableVersion tableVersion) => _inner.UpdateRow(entry, etag, tableVersion);
    public Task UpdateIAmAlive(MembershipEntry entry) => _inner.UpdateIAmAlive(entry);
#pragma warning restore CS0618
}

/// <summary>
/// The membership table in Grace's database (<see cref="Data.Entities.ClusterMember"/>, <see cref="ClusterVersion"/>).
/// Every change that Orleans makes conditional on the table version is one SaveChanges whose
/// update of the version row is checked against its etag, so two instances never both win.
/// </summary>
internal sealed class DatabaseMembershipTable(IDbContextFactory<GraceDbContext> dbFactory, string clusterId, TimeProvider time) : IMembershipTable
{
    public async Task InitializeMembershipTable(bool tryInitTableVersion)
    {
        if (!tryInitTableVersion)
        {
            return;
        }

        await using var db = await dbFactory.CreateDbContextAsync();
        if (await db.ClusterVersions.AnyAsync(v => v.ClusterId == clusterId))
        {
            return;
        }

        db.ClusterVersions.Add(new ClusterVersion { ClusterId = clusterId, Version = 0, Etag = NewEtag() });
        try
        {
            await db.SaveChangesAsync();
        }
        catch (DbUpdateException ex) when (DatabaseErrors.IsUniqueViolation(ex))
        {
            // Another instance created it at the same moment.
        }
    }

    public async Task DeleteMembershipTableEntries(string clusterId)
    {
        await using var db = await dbFactory.CreateDbContextAsync();
        await db.ClusterMembers.Where(m => m.ClusterId == clusterId).ExecuteDeleteAsync();
        await db.ClusterVersions.Where(v => v.ClusterId == clusterId).ExecuteDeleteAsync();
    }

    public async Task CleanupDefunctSiloEntries(DateTimeOffset beforeDate)
    {
        await using var db = await dbFactory.CreateDbContextAsync();
        var dead = (int)SiloStatus.Dead;
        await db.ClusterMembers.Where(m => m.ClusterId == clusterId && m.Status == dead && m.IAmAliveAt < beforeDate).ExecuteDeleteAsync();
    }

    public async Task<MembershipTableData> ReadRow(SiloAddress key)
    {
        var all = await ReadAll();
        return all.TryGet(key) is { } row ? new MembershipTableData(row, all.Version) : new MembershipTableData(all.Version);
    }

    public async Task<MembershipTableData> ReadAll()
    {
        await using var db = await dbFactory.CreateDbContextAsync();
        // One statement, so the rows and the version come from one snapshot.
        var read = await db.ClusterVersions.AsNoTracking()
            .Where(v => v.ClusterId == clusterId)
            .Select(v => new { v.Version, v.Etag, Members = db.ClusterMembers.Where(m => m.ClusterId == clusterId).ToList() })
            .SingleOrDefaultAsync()
            ?? throw new InvalidOperationException($"The membership table of cluster '{clusterId}' has no version row; it was not initialised.");
        var rows = read.Members.Select(m => Tuple.Create(MembershipJson.Read(m.Entry, m.IAmAliveAt), m.Etag)).ToList();
        return new MembershipTableData(rows, new TableVersion(read.Version, read.Etag));
    }

    public Task<bool> InsertRow(MembershipEntry entry, TableVersion tableVersion) => WriteAsync(entry, expectedRowEtag: null, tableVersion);

    public Task<bool> UpdateRow(MembershipEntry entry, string etag, TableVersion tableVersion) => WriteAsync(entry, etag, tableVersion);

    public async Task UpdateIAmAlive(MembershipEntry entry)
    {
        await using var db = await dbFactory.CreateDbContextAsync();
        var address = entry.SiloAddress.ToParsableString();
        var at = new DateTimeOffset(DateTime.SpecifyKind(entry.IAmAliveTime, DateTimeKind.Utc));
        await db.ClusterMembers.Where(m => m.ClusterId == clusterId && m.Address == address)
            .ExecuteUpdateAsync(s => s.SetProperty(m => m.IAmAliveAt, at));
    }

    /// <summary>Inserts (no expected row etag) or replaces a row, and moves the table version, all or nothing.</summary>
    private async Task<bool> WriteAsync(MembershipEntry entry, string? expectedRowEtag, TableVersion tableVersion)
    {
        await using var db = await dbFactory.CreateDbContextAsync();
        var version = await db.ClusterVersions.SingleOrDefaultAsync(v => v.ClusterId == clusterId);
        if (version is null || version.Etag != tableVersion.VersionEtag)
        {
            return false;
        }

        var address = entry.SiloAddress.ToParsableString();
        var row = await db.ClusterMembers.SingleOrDefaultAsync(m => m.ClusterId == clusterId && m.Address == address);
        if (expectedRowEtag is null ? row is not null : row is null || row.Etag != expectedRowEtag)
        {
            return false;
        }

        if (row is null)
        {
            row = new Data.Entities.ClusterMember { ClusterId = clusterId, Address = address, SiloName = "", Etag = "", Entry = "" };
            db.ClusterMembers.Add(row);
        }

        row.SiloName = entry.SiloName ?? "";
        row.HostName = entry.HostName;
        row.Status = (int)entry.Status;
        row.StartedAt = new DateTimeOffset(DateTime.SpecifyKind(entry.StartTime, DateTimeKind.Utc));
        row.IAmAliveAt = entry.IAmAliveTime == default ? time.GetUtcNow() : new DateTimeOffset(DateTime.SpecifyKind(entry.IAmAliveTime, DateTimeKind.Utc));
        row.Entry = MembershipJson.Write(entry);
        row.Etag = NewEtag();
        version.Version = tableVersion.Version;
        version.Etag = NewEtag();
        try
        {
            await db.SaveChangesAsync();
            return true;
        }
        catch (DbUpdateConcurrencyException)
        {
            return false;
        }
        catch (DbUpdateException ex) when (DatabaseErrors.IsUniqueViolation(ex))
        {
            return false;
        }
    }

    private static string NewEtag() => Guid.NewGuid().ToString("N");
}

/// <summary>The membership table of an instance that runs alone: the same rules, in memory.</summary>
internal sealed class LocalMembershipTable : IMembershipTable
{
    private readonly Lock _gate = new();
    private readonly Dictionary<SiloAddress, (MembershipEntry Entry, string Etag)> _rows = [];
    private TableVersion _version = new(0, "0");

    public Task InitializeMembershipTable(bool tryInitTableVersion) => Task.CompletedTask;

    public Task DeleteMembershipTableEntries(string clusterId)
    {
        lock (_gate)
        {
            _rows.Clear();
        }

        return Task.CompletedTask;
    }

    public Task CleanupDefunctSiloEntries(DateTimeOffset beforeDate)
    {
        lock (_gate)
        {
            foreach (var key in _rows.Where(r => r.Value.Entry.Status == SiloStatus.Dead && r.Value.Entry.IAmAliveTime < beforeDate.UtcDateTime).Select(r => r.Key).ToList())
            {
                _rows.Remove(key);
            }
        }

        return Task.CompletedTask;
    }

    public Task<MembershipTableData> ReadRow(SiloAddress key)
    {
        lock (_gate)
        {
            return Task.FromResult(_rows.TryGetValue(key, out var row)
                ? new MembershipTableData(Tuple.Create(Copy(row.Entry), row.Etag), _version)
                : new MembershipTableData(_version));
        }
    }

    public Task<MembershipTableData> ReadAll()
    {
        lock (_gate)
        {
            return Task.FromResult(new MembershipTableData(_rows.Values.Select(r => Tuple.Create(Copy(r.Entry), r.Etag)).ToList(), _version));
        }
    }

    public Task<bool> InsertRow(MembershipEntry entry, TableVersion tableVersion) => Task.FromResult(Write(entry, null, tableVersion));

    public Task<bool> UpdateRow(MembershipEntry entry, string etag, TableVersion tableVersion) => Task.FromResult(Write(entry, etag, tableVersion));

    public Task UpdateIAmAlive(MembershipEntry entry)
    {
        lock (_gate)
        {
            if (_rows.TryGetValue(entry.SiloAddress, out var row))
            {
                row.Entry.IAmAliveTime = entry.IAmAliveTime;
            }
        }

        return Task.CompletedTask;
    }

    private bool Write(MembershipEntry entry, string? expectedRowEtag, TableVersion tableVersion)
    {
        lock (_gate)
        {
            if (_version.VersionEtag != tableVersion.VersionEtag)
            {
                return false;
            }

            var exists = _rows.TryGetValue(entry.SiloAddress, out var row);
            if (expectedRowEtag is null ? exists : !exists || row.Etag != expectedRowEtag)
            {
                return false;
            }

            _rows[entry.SiloAddress] = (Copy(entry), Guid.NewGuid().ToString("N"));
            _version = new TableVersion(tableVersion.Version, Guid.NewGuid().ToString("N"));
            return true;
        }
    }

    private static MembershipEntry Copy(MembershipEntry entry) => MembershipJson.Read(MembershipJson.Write(entry), null);
}

/// <summary>A membership entry as JSON (Orleans' own serializer is not meant for storage across versions).</summary>
internal static class MembershipJson
{
    private sealed record Suspicion(string Silo, DateTime At);

    private sealed record Row(string Address, int Status, List<Suspicion>? Suspicions, int ProxyPort, string? HostName, string? SiloName,
        string? RoleName, int UpdateZone, int FaultZone, DateTime StartTime, DateTime IAmAliveTime);

    public static string Write(MembershipEntry entry) => JsonSerializer.Serialize(new Row(
        entry.SiloAddress.ToParsableString(), (int)entry.Status,
        entry.SuspectTimes?.Select(s => new Suspicion(s.Item1.ToParsableString(), s.Item2)).ToList(),
        entry.ProxyPort, entry.HostName, entry.SiloName, entry.RoleName, entry.UpdateZone, entry.FaultZone, entry.StartTime, entry.IAmAliveTime));

    public static MembershipEntry Read(string json, DateTimeOffset? iAmAliveAt)
    {
        var row = JsonSerializer.Deserialize<Row>(json) ?? throw new InvalidOperationException("An empty membership row.");
        return new MembershipEntry
        {
            SiloAddress = SiloAddress.FromParsableString(row.Address),
            Status = (SiloStatus)row.Status,
            SuspectTimes = row.Suspicions?.Select(s => Tuple.Create(SiloAddress.FromParsableString(s.Silo), DateTime.SpecifyKind(s.At, DateTimeKind.Utc))).ToList(),
            ProxyPort = row.ProxyPort,
            HostName = row.HostName ?? "",
            SiloName = row.SiloName ?? "",
            RoleName = row.RoleName,
            UpdateZone = row.UpdateZone,
            FaultZone = row.FaultZone,
            StartTime = DateTime.SpecifyKind(row.StartTime, DateTimeKind.Utc),
            // The heartbeat is written to its own column without touching the rest of the row.
            IAmAliveTime = iAmAliveAt?.UtcDateTime ?? DateTime.SpecifyKind(row.IAmAliveTime, DateTimeKind.Utc),
        };
    }
}
