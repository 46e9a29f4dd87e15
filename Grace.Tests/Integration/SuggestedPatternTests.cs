using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Configuration;
using Grace.Engine.Diagnose;
using Grace.Engine.Learn.Mining;
using Grace.Engine.Missions;
using Grace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;

namespace Grace.Tests.Integration;

/// <summary>
/// Issue 15, pattern mining on a real Grace: incidents no pattern matches become suggested
/// patterns (with candidate playbooks from healed incidents alike), a Lead exports one as a
/// catalog entry that the catalog's own validator accepts and the sentinel matches, and a
/// dismissal is audited and survives a restart (the rebuild from stored incidents).
/// </summary>
public abstract class SuggestedPatternTests(DatabaseProvider provider) : IAsyncLifetime
{
    private const string Password = "Suggest-Test-Password-1";
    private readonly TempFolder _folder = new();
    private TestDatabase _database = null!;

    private static readonly string[] Checkpoints =
    [
        "Orders writes are slow: checkpoint of /data/orders.db stalled after 1200 ms",
        "Orders writes are slow: checkpoint of /srv/cart/cart.db stalled after 80 ms",
        "Orders writes are slow: checkpoint of /var/lib/stock.db stalled after 15000 ms",
    ];

    private static readonly string[] Quotas =
    [
        "Disk quota exceeded for uid 1001 on /home/alice",
        "Disk quota exceeded for uid 0 on /srv/backup",
        "Disk quota exceeded for uid 4242 on /home/bob",
    ];

    public async Task InitializeAsync() => _database = await TestDatabase.CreateAsync(provider, _folder);

    public async Task DisposeAsync()
    {
        await _database.DisposeAsync();
        _folder.Dispose();
    }

    private IEnumerable<KeyValuePair<string, string?>> Settings() => TestCatalog.Settings(_folder).Concat(_database.Settings());

    private static async Task PostAsync(GraceHost host, string source, string message, string? exceptionType = null)
    {
        using var client = host.IngestClient();
        var response = await client.PostAsJsonAsync("/api/signals", new { source, message, severity = "Error", exceptionType });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }

    /// <summary>A mission of test-checkpoint that healed an incident like the checkpoint family: the evidence for a candidate playbook.</summary>
    private static async Task SeedHealedAsync(GraceHost host)
    {
        await using var db = host.CreateDb();
        var now = DateTimeOffset.UtcNow;
        var incident = new Incident
        {
            Id = Guid.NewGuid(), Fingerprint = Guid.NewGuid().ToString("N"), Source = "orders-api", Template = "t",
            SampleMessage = $"{TestCatalog.WalMessage} after 12 ms", Status = IncidentStatus.Resolved, PatternKey = "test-wal",
            FirstSeenAt = now, LastSeenAt = now, OpenedAt = now, ResolvedAt = now, Count = 1,
        };
        db.Incidents.Add(incident);
        db.Missions.Add(new Mission
        {
            Id = Guid.NewGuid(), IncidentId = incident.Id, PatternKey = "test-wal", PlaybookKey = "test-checkpoint", Action = "sqlite.wal-checkpoint",
            Target = "test-db", Parameters = "{}", RequestedBy = Actor.EngineName, State = MissionState.Succeeded, CreatedAt = now, UpdatedAt = now, CompletedAt = now,
            Version = Guid.NewGuid(),
        });
        await db.SaveChangesAsync();
    }

    private static async Task<List<SuggestionView>> WaitForSuggestionsAsync(GraceHost host, Func<List<SuggestionView>, bool> done)
    {
        var suggestions = host.Get<SuggestionService>();
        var until = DateTime.UtcNow.AddSeconds(20);
        List<SuggestionView> mine = [];
        while (DateTime.UtcNow < until)
        {
            mine = (await suggestions.ListAsync(true, default)).Where(s => s.Source is "orders-store" or "backup-agent").ToList();
            if (done(mine))
            {
                return mine;
            }

            await Task.Delay(100);
        }

        Assert.Fail("Suggestions seen: " + string.Join("; ", mine.Select(s => $"{s.Template} ({s.IncidentCount})")));
        return mine;
    }

    [Fact]
    public async Task Unmatched_incidents_become_suggestions_a_lead_exports_into_a_valid_catalog_entry_and_dismisses_for_good()
    {
        var host = new GraceHost(Settings()).Start();
        await host.CreateUserAsync("lena", Password, GraceRoles.Lead);
        await host.CreateUserAsync("otto", Password, GraceRoles.Operator);
        await SeedHealedAsync(host);
        await host.Get<PatternMiningService>().Rebuilt;
        foreach (var (checkpoint, quota) in Checkpoints.Zip(Quotas))
        {
            await PostAsync(host, "orders-store", checkpoint, "Microsoft.Data.Sqlite.SqliteException");
            await PostAsync(host, "backup-agent", quota);
        }

        var mine = await WaitForSuggestionsAsync(host, s => s.Count == 2 && s.All(x => x.IncidentCount == 3));
        var checkpoints = mine.Single(s => s.Source == "orders-store");
        var quotas = mine.Single(s => s.Source == "backup-agent");
        Assert.Equal("Orders writes are slow: checkpoint of <*> stalled after <*> ms", checkpoints.Template);
        Assert.True(checkpoints.SourceShared);
        Assert.Equal("Microsoft.Data.Sqlite.SqliteException", checkpoints.ExceptionType);
        Assert.True(checkpoints.ExceptionTypeShared);
        Assert.Equal(3, checkpoints.SignalCount);
        Assert.All(Checkpoints, m => Assert.True(SuggestionExport.RegexMatches(checkpoints.MessageRegex, m), m));
        Assert.All(Quotas, m => Assert.False(SuggestionExport.RegexMatches(checkpoints.MessageRegex, m), m));
        // The healed WAL incident shares most of its words: its playbook is the candidate. The quota family has none.
        Assert.Equal("test-checkpoint", Assert.Single(checkpoints.Candidates).Playbook);
        Assert.Empty(quotas.Candidates);

        using var lead = host.ClientWithCookie(await host.SignInAsync("lena", Password));
        using var operatorClient = host.ClientWithCookie(await host.SignInAsync("otto", Password));

        // Refusals: an Operator; a missing body; no playbook to propose; an unknown playbook; a configured key; an unknown suggestion.
        Assert.Equal(HttpStatusCode.Forbidden, (await operatorClient.PostAsJsonAsync($"/api/suggestions/{checkpoints.Id}/export", new { })).StatusCode);
        await AssertProblemAsync(await lead.PostAsync($"/api/suggestions/{checkpoints.Id}/export", new StringContent("", System.Text.Encoding.UTF8, "application/json")), HttpStatusCode.BadRequest, "body");
        await AssertProblemAsync(await lead.PostAsJsonAsync($"/api/suggestions/{quotas.Id}/export", new { }), HttpStatusCode.BadRequest, "playbook");
        await AssertProblemAsync(await lead.PostAsJsonAsync($"/api/suggestions/{quotas.Id}/export", new { playbook = "no-such" }), HttpStatusCode.BadRequest, "playbook");
        await AssertProblemAsync(await lead.PostAsJsonAsync($"/api/suggestions/{checkpoints.Id}/export", new { key = "test-wal" }), HttpStatusCode.BadRequest, "key");
        await AssertProblemAsync(await lead.PostAsJsonAsync($"/api/suggestions/{checkpoints.Id}/export", new { key = "bad key!" }), HttpStatusCode.BadRequest, "key");
        Assert.Equal(HttpStatusCode.NotFound, (await lead.PostAsJsonAsync($"/api/suggestions/{Guid.NewGuid()}/export", new { })).StatusCode);

        // The export: the best candidate by default; the JSON is a catalog entry the validator accepts, and the sentinel matches every member with it.
        var exported = await lead.PostAsJsonAsync($"/api/suggestions/{checkpoints.Id}/export", new { });
        Assert.Equal(HttpStatusCode.OK, exported.StatusCode);
        var body = await exported.Content.ReadFromJsonAsync<JsonElement>();
        var key = body.GetProperty("key").GetString()!;
        Assert.Equal("suggested-orders-writes-are-slow", key);
        var json = body.GetProperty("json").GetString()!;
        var catalog = ValidateExport(host, json);
        var pattern = catalog.Patterns[key];
        Assert.Equal(["test-checkpoint"], pattern.Playbooks);
        Assert.Equal("orders-store", pattern.Source);
        foreach (var message in Checkpoints)
        {
            Assert.True(Sentinel.Matches(pattern, new Grace.Engine.Capture.Signal("orders-store", message, Severity.Error, DateTimeOffset.UtcNow, ExceptionType: "Microsoft.Data.Sqlite.SqliteException")), message);
        }

        Assert.False(Sentinel.Matches(pattern, new Grace.Engine.Capture.Signal("orders-store", Quotas[0], Severity.Error, DateTimeOffset.UtcNow, ExceptionType: "Microsoft.Data.Sqlite.SqliteException")));

        // The quota family with a playbook chosen by the Lead validates too (no source-less surprise: its source is shared).
        var quotaExport = await lead.PostAsJsonAsync($"/api/suggestions/{quotas.Id}/export", new { key = "backup-quota", playbook = "test-clear-cache" });
        Assert.Equal(HttpStatusCode.OK, quotaExport.StatusCode);
        Assert.Equal(["test-clear-cache"], ValidateExport(host, (await quotaExport.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("json").GetString()!).Patterns["backup-quota"].Playbooks);

        // Dismiss: a reason is required; then it is hidden, audited, and refused a second time.
        await AssertProblemAsync(await lead.PostAsJsonAsync($"/api/suggestions/{quotas.Id}/dismiss", new { reason = " " }), HttpStatusCode.BadRequest, "reason");
        Assert.Equal(HttpStatusCode.Forbidden, (await operatorClient.PostAsJsonAsync($"/api/suggestions/{quotas.Id}/dismiss", new { reason = "x" })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await lead.PostAsJsonAsync($"/api/suggestions/{quotas.Id}/dismiss", new { reason = "backups are another team's" })).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await lead.PostAsJsonAsync($"/api/suggestions/{quotas.Id}/dismiss", new { reason = "again" })).StatusCode);
        var listed = await lead.GetFromJsonAsync<JsonElement>("/api/suggestions");
        Assert.DoesNotContain(listed.EnumerateArray(), s => s.GetProperty("id").GetGuid() == quotas.Id);
        await using (var db = host.CreateDb())
        {
            var audits = await db.AuditEntries.AsNoTracking().Where(a => a.Action.StartsWith("pattern-suggestion.")).ToListAsync();
            Assert.Contains(audits, a => a.Action == "pattern-suggestion.dismiss" && a.Actor == "lena" && a.Detail!.Contains("backups are another team's"));
            Assert.Contains(audits, a => a.Action == "pattern-suggestion.export" && a.Actor == "lena" && a.Detail!.Contains(key));
        }

        await host.DisposeAsync();

        // A restart: the miner is rebuilt from the stored unmatched incidents; the same clusters come back, the dismissal stays.
        await using var again = new GraceHost(Settings()).Start();
        await again.Get<PatternMiningService>().Rebuilt;
        var after = await WaitForSuggestionsAsync(again, s => s.Count == 2);
        Assert.Equal(SuggestionStatus.Dismissed, after.Single(s => s.Id == quotas.Id).Status);
        Assert.Equal(SuggestionStatus.Suggested, after.Single(s => s.Id == checkpoints.Id).Status);
        Assert.Equal(3, after.Single(s => s.Id == checkpoints.Id).IncidentCount);

        // More of a dismissed family stays dismissed.
        await PostAsync(again, "backup-agent", "Disk quota exceeded for uid 77 on /home/carol");
        await WaitForSuggestionsAsync(again, s => s.Any(x => x.Id == quotas.Id && x.IncidentCount == 4));
        Assert.DoesNotContain(await again.Get<SuggestionService>().ListAsync(false, default), s => s.Source == "backup-agent");
    }

    /// <summary>The exported JSON merged over the test catalog, bound and checked by Grace's own catalog validator.</summary>
    private static CatalogOptions ValidateExport(GraceHost host, string json)
    {
        using var folder = new TempFolder();
        var configuration = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(RepositoryRoot(), "appsettings.json"))
            .AddInMemoryCollection(TestCatalog.Settings(folder))
            .AddJsonStream(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json)))
            .Build();
        var options = configuration.GetSection(CatalogOptions.Section).Get<CatalogOptions>()!;
        var validator = new CatalogValidator(host.Get<Grace.Engine.Execute.ExecutorCatalog>(), host.Get<Grace.Engine.Targets.TargetKinds>(),
            host.Get<Grace.Engine.Verify.Benchmarks.LatencySampler>(), configuration, host.Get<Grace.Engine.Cluster.GraceInstance>());
        var result = validator.Validate(null, options);
        Assert.True(result.Succeeded, result.FailureMessage);
        return options;
    }

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(dir!.FullName, "Grace.Console.sln")))
        {
            dir = dir.Parent;
        }

        return dir.FullName;
    }

    private static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string field)
    {
        Assert.Equal(status, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.TryGetProperty("errors", out var errors) && errors.TryGetProperty(field, out _), $"expected a problem naming '{field}': {problem}");
    }
}

public sealed class SqliteSuggestedPatternTests() : SuggestedPatternTests(DatabaseProvider.Sqlite);

public sealed class PostgresSuggestedPatternTests() : SuggestedPatternTests(DatabaseProvider.Postgres);
