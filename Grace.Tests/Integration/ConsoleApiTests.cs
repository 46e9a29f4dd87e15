using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Missions;
using Grace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Grace.Tests.Integration;

/// <summary>The console's JSON API from a terminal: bad input gets a 400 naming the field, never a server error or an incident.</summary>
public sealed class ConsoleApiTests : IAsyncLifetime
{
    private readonly TempFolder _folder = new();
    private TestDatabase _database = null!;
    private GraceHost _host = null!;
    private HttpClient _admin = null!;

    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite, _folder);
        _host = new GraceHost(TestCatalog.Settings(_folder).Concat(_database.Settings())
            .Append(new("Grace:Faults:Enabled", "true"))
            .Append(new("Grace:Targets:demo-orders-db:Path", _folder.Combine("demo", "orders.db")))).Start();
        _admin = _host.ClientWithCookie(await _host.SignInAsync("admin", TestCatalog.AdminPassword));
    }

    public async Task DisposeAsync()
    {
        _admin.Dispose();
        await _host.DisposeAsync();
        await _database.DisposeAsync();
        _folder.Dispose();
    }

    private async Task<(HttpStatusCode Status, JsonElement Problem)> PostAsync(string path, string json, string contentType = "application/json")
    {
        var response = await _admin.PostAsync(path, new StringContent(json, Encoding.UTF8, contentType));
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    private static string Error(JsonElement problem, string field) => problem.GetProperty("errors").GetProperty(field)[0].GetString()!;

    [Fact]
    public async Task A_malformed_fault_request_is_a_400_that_names_the_field()
    {
        var (status, problem) = await PostAsync("/api/faults", """{"kind":""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("not valid JSON", Error(problem, "body"));

        (status, problem) = await PostAsync("/api/faults", """{"kind":"DiskFill","target":"grace-cache"}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("kind must be one of SqliteWalGrowth, CacheFill", Error(problem, "kind"));

        (status, problem) = await PostAsync("/api/faults", """{"kind":"SqliteWalGrowth","target":"demo-orders-db","megabytes":"six"}""");
        Assert.Equal("megabytes must be a number.", Error(problem, "megabytes"));

        (status, problem) = await PostAsync("/api/faults", """{"target":"demo-orders-db"}""");
        Assert.Contains("kind is required", Error(problem, "kind"));

        (status, problem) = await PostAsync("/api/faults", """{"kind":"SqliteWalGrowth","target":"demo-orders-db","megabytes":-3}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("megabytes must be between 1 and 512 for SqliteWalGrowth (it is -3)", problem.GetProperty("detail").GetString());

        (status, problem) = await PostAsync("/api/faults", """{"kind":"ProcessHang","target":"nope"}""");
        Assert.Contains("ProcessHang applies to demo-worker", problem.GetProperty("detail").GetString());

        (status, problem) = await PostAsync("/api/faults", """{"kind":3,"target":"demo-worker"}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("kind must be a string.", Error(problem, "kind"));

        (status, problem) = await PostAsync("/api/faults", $$"""{"kind":"CacheFill","target":"{{new string('t', 5000)}}"}""");
        Assert.Contains("at most 128 characters", Error(problem, "target"));

        (status, _) = await PostAsync("/api/faults", "kind=CacheFill", "application/x-www-form-urlencoded");
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, status);

        // Nothing of this is Grace's own error. Signals are stored in order: once a later one has its incident, any error log before it has too.
        using (var ingest = _host.IngestClient())
        {
            (await ingest.PostAsJsonAsync("/api/signals", new { source = "orders-api", message = TestCatalog.WalMessage })).EnsureSuccessStatusCode();
        }

        await _host.WaitForIncidentAsync(i => i.SampleMessage == TestCatalog.WalMessage);
        await using var db = _host.CreateDb();
        Assert.Empty(await db.Incidents.Where(i => i.Target == "grace").Select(i => i.Source).ToListAsync());
        Assert.Equal(2, await db.AuditEntries.CountAsync(a => a.Action == "fault.inject-refused"));
    }

    [Fact]
    public async Task A_decision_without_a_json_body_says_what_to_send()
    {
        var (status, problem) = await PostAsync($"/api/missions/{Guid.NewGuid()}/approve", "");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("""{"reason": "checked the blast radius"}""", Error(problem, "body"));

        (status, problem) = await PostAsync($"/api/missions/{Guid.NewGuid()}/reject", """{"reason": 42}""");
        Assert.Equal("reason must be a string.", Error(problem, "reason"));

        (status, problem) = await PostAsync($"/api/missions/{Guid.NewGuid()}/reject", $$"""{"reason": "{{new string('r', 3000)}}"}""");
        Assert.Contains("at most 2048 characters", Error(problem, "reason"));

        (status, problem) = await PostAsync($"/api/missions/{Guid.NewGuid()}/approve", "{}");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Contains("does not exist", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task The_faults_api_lists_each_fault_with_its_targets_and_an_injection_is_accepted_and_audited()
    {
        var faults = await _admin.GetFromJsonAsync<JsonElement>("/api/faults");
        var hang = faults.EnumerateArray().Single(f => f.GetProperty("kind").GetString() == "ProcessHang");
        Assert.Contains("demo-worker", hang.GetProperty("targets").ToString());
        var postgres = faults.EnumerateArray().Single(f => f.GetProperty("kind").GetString() == "PostgresLockHold");
        Assert.Contains("Grace:Targets:demo-postgres:ConnectionString", postgres.GetProperty("targets").ToString());

        var (status, body) = await PostAsync("/api/faults", """{"kind":"SqliteWalGrowth","target":"demo-orders-db","megabytes":1}""");
        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Contains("grown to", body.GetProperty("result").GetString());
        await using var db = _host.CreateDb();
        Assert.Contains(await db.AuditEntries.ToListAsync(), a => a.Action == "fault.inject" && a.Actor == "admin");
    }

    [Fact]
    public async Task The_requester_of_a_mission_cannot_approve_it_over_the_api()
    {
        TestCatalog.FillCache(_folder.Combine("cache-root", "thumbnails"));
        // The admin reports the error from their own session: they are the requester.
        (await _admin.PostAsJsonAsync("/api/signals", new { source = "thumbnailer", message = TestCatalog.CacheMessage })).EnsureSuccessStatusCode();
        var waiting = await _host.WaitForMissionAsync(m => m.State == MissionState.AwaitingApproval, "awaiting approval");
        Assert.Equal("admin", waiting.RequestedBy);

        var (status, problem) = await PostAsync($"/api/missions/{waiting.Id}/approve", "{}");
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Contains("requested this mission", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task An_admin_creates_an_api_key_from_a_terminal_and_a_missing_key_is_explained()
    {
        using var anonymous = _host.CreateClient();
        var refused = await anonymous.PostAsJsonAsync("/api/signals", new { source = "orders-api", message = "boom" });
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Contains("API keys page", await refused.Content.ReadAsStringAsync());

        var created = await _admin.PostAsJsonAsync("/api/keys", new { name = "orders-api" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var key = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString();
        using var program = _host.CreateClient();
        program.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        Assert.Equal(HttpStatusCode.Accepted, (await program.PostAsJsonAsync("/api/signals", new { source = "orders-api", message = "boom" })).StatusCode);

        // Keys make keys only in an Admin's hands: not with a key, not as an Operator.
        Assert.Equal(HttpStatusCode.Unauthorized, (await program.PostAsJsonAsync("/api/keys", new { name = "sneaky" })).StatusCode);
        await _host.CreateUserAsync("olivia", "Operator-Password-1", GraceRoles.Operator);
        using var operatorClient = _host.ClientWithCookie(await _host.SignInAsync("olivia", "Operator-Password-1"));
        Assert.Equal(HttpStatusCode.Forbidden, (await operatorClient.PostAsJsonAsync("/api/keys", new { name = "sneaky" })).StatusCode);
        var (status, problem) = await PostAsync("/api/keys", "{}");
        Assert.Contains("name is required", Error(problem, "name"));
    }
}
