using Grace.Data;

namespace Grace.Tests.Infrastructure;

/// <summary>A test with its own temporary folder and a fresh SQLite database for Grace in it, both removed afterwards.</summary>
public abstract class SqliteDatabaseTest : IAsyncLifetime
{
    protected TempFolder Folder { get; } = new();

    protected TestDatabase Database { get; private set; } = null!;

    public async Task InitializeAsync() => Database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite, Folder);

    public async Task DisposeAsync()
    {
        await Database.DisposeAsync();
        Folder.Dispose();
    }
}
