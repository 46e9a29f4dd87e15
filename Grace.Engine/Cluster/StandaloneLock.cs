using Grace.Data;
using Microsoft.Extensions.Hosting;

namespace Grace.Engine.Cluster;

/// <summary>
/// On SQLite Grace runs as one instance: a second Grace started on the same database file would act
/// on the same targets independently. This takes an exclusive lock on a file beside the database
/// for the life of the process, and refuses to start when another Grace holds it.
/// </summary>
public sealed class StandaloneLock(GraceInstance instance, GraceDatabaseInfo database) : IHostedService, IDisposable
{
    private FileStream? _lock;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (instance.IsClustered || database.SqliteFilePath is not { } file || file == ":memory:")
        {
            return Task.CompletedTask;
        }

        var path = Path.GetFullPath(file) + ".instance-lock";
        try
        {
            _lock = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose);
        }
        catch (IOException ex)
        {
            throw new InvalidOperationException(
                $"Another Grace is running on the database {file} (it holds {path}). On SQLite Grace runs as one instance; "
                + "to run several, point them all at one PostgreSQL or SQL Server database (Grace:Database:Provider), and they form a cluster.", ex);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _lock?.Dispose();
        _lock = null;
    }
}
