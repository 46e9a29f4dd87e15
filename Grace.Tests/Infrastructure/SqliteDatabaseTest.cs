using Grace.Data;

namespace Grace.Tests.Infrastructure;

/// <summary>A test with its own temporary folder and a fresh database for Grace (a SQLite file in the folder, or a database on the test PostgreSQL server), both removed afterwards.</summary>
public abstract class DatabaseTest(DatabaseProvider provider) : IAsyncLifetime
{
    protected TempFolder Folder { get; } = new();

    protected TestDatabase Database { get; private set; } = null!;

    /// <summary>The provider of Grace's own database in this test.</summary>
    protected DatabaseProvider Provider => provider;

    public async Task InitializeAsync() => Database = await TestDatabase.CreateAsync(provider, Folder);

    public async Task DisposeAsync()
    {
        await Database.DisposeAsync();
        Folder.Dispose();
    }
}

/// <summary>A test with its own temporary folder and a fresh SQLite database for Grace in it, both removed afterwards.</summary>
public abstract class SqliteDatabaseTest() : DatabaseTest(DatabaseProvider.Sqlite);
