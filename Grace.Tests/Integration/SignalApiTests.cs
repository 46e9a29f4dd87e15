using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Grace.Data;
using Grace.Engine.Capture;
using Grace.Tests.Infrastructure;

namespace Grace.Tests.Integration;

/// <summary><c>POST /api/signals</c>: good batches are taken whole, bad input gets a 400 naming the field.</summary>
public sealed class SignalApiTests : IAsyncLifetime
{
    private readonly TempFolder _folder = new();
    private TestDatabase _database = null!;
    private GraceHost _host = null!;

    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite, _folder);
        _host = new GraceHost(TestCatalog.Settings(_folder).Concat(_database.Settings())).Start();
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await _database.DisposeAsync();
        _folder.Dispose();
    }

    public static TheoryData<string, string> Malformed => new()
    {
        { "{not json", "body" },
        { "", "body" },
        { "42", "body" },
        { "[]", "body" },
        { "[1]", "[0]" },
        { "{\"message\":\"m\"}", "source" },
        { "{\"source\":\"s\"}", "message" },
        { "{\"source\":\"s\",\"message\":\"\"}", "message" },
        { "{\"source\":7,\"message\":\"m\"}", "source" },
        { "{\"source\":\"s\",\"message\":\"m\",\"severity\":\"Apocalyptic\"}", "severity" },
        { "{\"source\":\"s\",\"message\":\"m\",\"severity\":\"3\"}", "severity" },
        { "{\"source\":\"s\",\"message\":\"m\",\"timestamp\":\"yesterday\"}", "timestamp" },
        { "{\"source\":\"s\",\"message\":\"m\",\"labels\":[\"a\"]}", "labels" },
        { "{\"source\":\"s\",\"message\":\"m\",\"labels\":{\"env\":5}}", "labels.env" },
        { "[{\"source\":\"s\",\"message\":\"ok\"},{\"source\":\"s\"}]", "[1].message" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public async Task Bad_input_gets_a_400_problem_naming_the_field_and_nothing_is_accepted(string body, string field)
    {
        var intake = _host.Get<SignalIntake>();
        var before = intake.Accepted;
        using var client = _host.IngestClient();
        var response = await client.PostAsync("/api/signals", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var errors = problem.RootElement.GetProperty("errors");
        Assert.True(errors.TryGetProperty(field, out _), $"the problem should name '{field}': {problem.RootElement}");
        Assert.Equal(before, intake.Accepted);
    }

    [Fact]
    public async Task A_batch_is_accepted_whole_and_repeats_fold_into_one_incident()
    {
        using var client = _host.IngestClient();
        var batch = Enumerable.Range(0, 50).Select(i => new { source = "payments", message = $"Card processor answered 503 after {i * 10} ms", severity = "Warning" });
        var response = await client.PostAsJsonAsync("/api/signals", batch);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var accepted = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(50, accepted.GetProperty("accepted").GetInt32());

        for (var i = 0; i < 100; i++)
        {
            await using var db = _host.CreateDb();
            var incident = db.Incidents.SingleOrDefault(x => x.Source == "payments");
            if (incident?.Count == 50)
            {
                Assert.Equal("Card processor answered <n> after <n> ms", incident.Template);
                return;
            }

            await Task.Delay(100);
        }

        Assert.Fail("The 50 signals did not fold into one incident with a count of 50.");
    }
}
