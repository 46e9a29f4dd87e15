using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Grace.Data;
using Grace.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Serilog.Core;
using Serilog.Events;

namespace Grace.Tests.Integration;

/// <summary>With no password configured, the first start creates an admin with a generated password, logged once.</summary>
public sealed class FirstStartTests : SqliteDatabaseTest
{
    private sealed class CapturingSink : ILogEventSink
    {
        public ConcurrentQueue<string> Messages { get; } = new();

        public void Emit(LogEvent logEvent) => Messages.Enqueue(logEvent.RenderMessage());
    }

    [Fact]
    public async Task The_generated_admin_password_is_printed_once_and_works()
    {
        var settings = TestCatalog.Settings(Folder).Where(kv => kv.Key != "Grace:Identity:AdminPassword").Concat(Database.Settings()).ToList();
        var first = new CapturingSink();
        string password;
        await using (var host = new GraceHost(settings, s => s.AddSingleton<ILogEventSink>(first)).Start())
        {
            var line = Assert.Single(first.Messages, m => m.Contains("created administrator", StringComparison.Ordinal));
            password = Regex.Match(line, "with password \"?([^ \"]+)\"? ").Groups[1].Value;
            Assert.True(password.Length >= 12, line);
            _ = await host.SignInAsync("admin", password);
        }

        var second = new CapturingSink();
        await using (var again = new GraceHost(settings, s => s.AddSingleton<ILogEventSink>(second)).Start())
        {
            Assert.DoesNotContain(second.Messages, m => m.Contains(password, StringComparison.Ordinal));
            _ = await again.SignInAsync("admin", password);
        }
    }

    [Fact]
    public async Task Grace_creates_and_migrates_its_sqlite_database_in_wal_mode_on_first_start()
    {
        var path = Folder.Combine("grace.db");
        Assert.False(File.Exists(path));
        await using (var host = new GraceHost(TestCatalog.Settings(Folder).Concat(Database.Settings())).Start())
        {
            await using var db = host.CreateDb();
            Assert.Empty(await Microsoft.EntityFrameworkCore.RelationalDatabaseFacadeExtensions.GetPendingMigrationsAsync(db.Database));
        }

        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path}");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode;";
        Assert.Equal("wal", await command.ExecuteScalarAsync());
    }
}
