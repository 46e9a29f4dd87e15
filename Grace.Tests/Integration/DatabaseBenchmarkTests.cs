using Grace.Engine.Configuration;
using Grace.Engine.Targets;
using Grace.Engine.Verify.Benchmarks;
using Grace.Tests.Infrastructure;
using Npgsql;

namespace Grace.Tests.Integration;

/// <summary>Query benchmarks on the real PostgreSQL server from the test setup, and on an unreachable SQL Server.</summary>
public sealed class DatabaseBenchmarkTests : IAsyncLifetime
{
    private string _name = "";
    private string _connectionString = "";

    public async Task InitializeAsync()
    {
        _name = $"grace_bench_{Guid.NewGuid():N}";
        await using (var admin = new NpgsqlConnection(TestDatabase.PostgresAdminConnectionString))
        {
            await admin.OpenAsync();
            await new NpgsqlCommand($"CREATE DATABASE \"{_name}\"", admin).ExecuteNonQueryAsync();
        }

        _connectionString = new NpgsqlConnectionStringBuilder(TestDatabase.PostgresAdminConnectionString) { Database = _name, Pooling = false }.ConnectionString;
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync();
        await new NpgsqlCommand(
            """
            CREATE TABLE orders(id int PRIMARY KEY, customer text NOT NULL);
            INSERT INTO orders SELECT g, md5(g::text) FROM generate_series(1, 200000) AS g;
            CREATE INDEX orders_customer ON orders(customer);
            ANALYZE orders;
            """, connection).ExecuteNonQueryAsync();
    }

    public async Task DisposeAsync()
    {
        await using var admin = new NpgsqlConnection(TestDatabase.PostgresAdminConnectionString);
        await admin.OpenAsync();
        await new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{_name}\" WITH (FORCE)", admin).ExecuteNonQueryAsync();
    }

    private ResolvedTarget Target => TestTargets.Postgres("orders-pg", _connectionString);

    // The lookup an application runs on every page: by customer, through the index.
    private static readonly BenchmarkOptions Lookup = new() { Name = "customer-lookup", Kind = "Postgres", Query = "SELECT id FROM orders WHERE customer = md5('4242')", Samples = 30 };

    [Fact]
    public async Task A_dropped_index_is_a_regression_of_the_query_benchmark()
    {
        var sampler = TestSamplers.All();
        var before = await sampler.SampleAsync(Target, Lookup, default);
        await using (var connection = new NpgsqlConnection(_connectionString))
        {
            await connection.OpenAsync();
            await new NpgsqlCommand("DROP INDEX orders_customer", connection).ExecuteNonQueryAsync();
        }

        var after = await sampler.SampleAsync(Target, Lookup, default);
        var verdict = MannWhitney.Compare(before, after);
        Assert.True(verdict.Regression, $"median {verdict.MedianBefore:0.###} → {verdict.MedianAfter:0.###} ms, p = {verdict.PValue}");
    }

    [Fact]
    public async Task The_same_query_twice_is_not_a_regression()
    {
        var sampler = TestSamplers.All();
        var before = await sampler.SampleAsync(Target, Lookup, default);
        var after = await sampler.SampleAsync(Target, Lookup, default);
        var verdict = MannWhitney.Compare(before, after);
        Assert.False(verdict.Regression, $"median {verdict.MedianBefore:0.###} → {verdict.MedianAfter:0.###} ms, p = {verdict.PValue}");
    }

    [Fact]
    public async Task A_benchmark_query_that_writes_is_refused_and_changes_nothing()
    {
        var writing = new BenchmarkOptions { Name = "careless", Kind = "Postgres", Query = "DELETE FROM orders", Samples = 5 };
        var refused = await Assert.ThrowsAsync<PostgresException>(() => TestSamplers.All().SampleAsync(Target, writing, default));
        Assert.Equal(PostgresErrorCodes.ReadOnlySqlTransaction, refused.SqlState);
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync();
        Assert.Equal(200000L, await new NpgsqlCommand("SELECT count(*) FROM orders", connection).ExecuteScalarAsync());
    }

    [Fact]
    public async Task An_unreachable_sql_server_fails_the_benchmark_without_showing_its_password()
    {
        const string password = "Sup3r-Secret-Benchmark";
        var target = TestTargets.SqlServer("orders-mssql", $"Server=tcp:127.0.0.1,{TestCatalog.FreeLoopbackPort()};Database=orders;User Id=grace;Password={password};Connect Timeout=2;Encrypt=false");
        var failure = await Assert.ThrowsAnyAsync<Exception>(() =>
            TestSamplers.All().SampleAsync(target, new BenchmarkOptions { Name = "lookup", Kind = "SqlServer", Samples = 5 }, default));
        Assert.IsType<Microsoft.Data.SqlClient.SqlException>(failure);
        Assert.DoesNotContain(password, failure.ToString(), StringComparison.Ordinal);
    }
}
