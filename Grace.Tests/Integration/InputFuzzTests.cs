using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
using Grace.Data;
using Grace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Serilog.Core;
using Serilog.Events;
using Xunit.Abstractions;

namespace Grace.Tests.Integration;

/// <summary>
/// A seeded fuzz run over the JSON API (issue 13): a few thousand bodies made by breaking valid
/// ones (bytes flipped or cut, invalid UTF-8, lone surrogate escapes, deep nesting, huge numbers,
/// wrong content types). None may get a 5xx, every refusal is a problem document, and none may
/// log at Error or open an incident from Grace's own log.
/// </summary>
public sealed class InputFuzzTests(ITestOutputHelper output) : SqliteDatabaseTest
{
    private const int Seed = 1313;
    private const int Requests = 3000;

    private sealed class ErrorLog : ILogEventSink
    {
        public ConcurrentQueue<string> Lines { get; } = new();

        public void Emit(LogEvent logEvent)
        {
            if (logEvent.Level >= LogEventLevel.Error)
            {
                Lines.Enqueue($"{logEvent.Level} {logEvent.RenderMessage()} {logEvent.Exception?.GetType().Name}: {logEvent.Exception?.Message}");
            }
        }
    }

    private static readonly string[] Surrogates = ["\\ud800", "\\udfff", "\\ud83d\\u0041", "\\uDBFF"];
    private static readonly string[] Numbers = ["1e400", "-0", "123456789012345678901234567890", "NaN", "0x1F"];
    private static readonly string[] WrongTypes = ["{\"fuzz", "[\"fuzz", "7,\"fuzz", "null,\"fuzz"];
    private static readonly string[] ContentTypes = ["text/plain", "application/xml", "application/json; charset=latin1", "multipart/form-data; boundary=x"];
    private static readonly string[] GraceLogSources = ["Grace", "Microsoft", "Serilog", "System", "Orleans", "Polly"];
    private static readonly byte[][] InvalidUtf8 = [[0xFF], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xC3]];

    private static readonly string[] Paths = ["/api/signals", "/api/alertmanager", "/api/grafana", "/api/webhooks/fuzz", "/api/missions/{id}/approve", "/api/missions/{id}/reject", "/api/incidents/{id}/comment"];

    private static readonly string[] Valid =
    [
        """{"source":"fuzz-orders","message":"Card processor answered 503","severity":"Warning","labels":{"env":"prod"},"timestamp":"2026-11-30T10:00:00Z"}""",
        """[{"source":"fuzz-a","message":"one"},{"source":"fuzz-b","message":"two","target":"test-db"}]""",
        """{"version":"4","receiver":"fuzz","alerts":[{"status":"firing","labels":{"alertname":"FuzzDown","job":"fuzz-job"},"annotations":{"summary":"down"},"startsAt":"2026-11-30T10:00:00Z","fingerprint":"ab12"}]}""",
        """{"version":"1","orgId":1,"state":"alerting","alerts":[{"status":"resolved","labels":{"alertname":"FuzzLatency","service":"fuzz-svc"},"values":{"B":1.5},"silenceURL":"https://g/s","dashboardURL":""}]}""",
        """{"msg":"fuzz down","monitor":{"id":3,"name":"fuzz-web"},"heartbeat":{"status":0}}""",
        """{"reason":"checked the blast radius"}""",
        """{"text":"looking at it"}""",
    ];

    private static byte[] Mutate(Random random, byte[] body)
    {
        var bytes = body.ToList();
        var mutations = random.Next(1, 4);
        for (var m = 0; m < mutations; m++)
        {
            var at = bytes.Count == 0 ? 0 : random.Next(bytes.Count);
            switch (random.Next(11))
            {
                case 0: // flip a byte
                    if (bytes.Count > 0)
                    {
                        bytes[at] = (byte)random.Next(256);
                    }

                    break;
                case 1: // invalid UTF-8
                    bytes.InsertRange(at, InvalidUtf8[random.Next(5)]);
                    break;
                case 2: // a lone surrogate escape inside (or outside) a string
                    bytes.InsertRange(at, Encoding.ASCII.GetBytes(Surrogates[random.Next(4)]));
                    break;
                case 3: // cut short
                    bytes.RemoveRange(at, bytes.Count - at);
                    break;
                case 4: // deep nesting
                    var depth = random.Next(60, 200);
                    bytes.InsertRange(at, Encoding.ASCII.GetBytes(new string('[', depth) + new string(']', depth)));
                    break;
                case 5: // numbers no type holds
                    bytes.InsertRange(at, Encoding.ASCII.GetBytes(Numbers[random.Next(5)]));
                    break;
                case 6: // control characters and NUL
                    bytes.Insert(at, (byte)random.Next(0, 32));
                    break;
                case 7: // duplicate a stretch
                    var length = Math.Min(bytes.Count - at, random.Next(1, 40));
                    bytes.InsertRange(at, bytes.GetRange(at, length));
                    break;
                case 8: // a value of the wrong type
                    var text = Encoding.UTF8.GetString([.. bytes]);
                    var replaced = text.Replace("\"fuzz", WrongTypes[random.Next(4)], StringComparison.Ordinal);
                    bytes = [.. Encoding.UTF8.GetBytes(replaced)];
                    break;
                case 9: // a property name with bad bytes
                    var quote = bytes.IndexOf((byte)'"');
                    if (quote >= 0)
                    {
                        bytes.InsertRange(quote + 1, [0xFE, 0xFF]);
                    }

                    break;
                default: // random garbage
                    var garbage = new byte[random.Next(1, 16)];
                    random.NextBytes(garbage);
                    bytes.InsertRange(at, garbage);
                    break;
            }
        }

        return [.. bytes];
    }

    [Fact]
    public async Task Thousands_of_malformed_bodies_get_no_5xx_and_open_no_incident()
    {
        var errors = new ErrorLog();
        await using var host = new GraceHost(TestCatalog.Settings(Folder).Concat(Database.Settings()).Concat(new Dictionary<string, string?>
        {
            ["Grace:Ingestion:RequestsPerSecondPerKey"] = "1000000",
            ["Grace:Ingestion:BurstPerKey"] = "1000000",
            ["Grace:Webhooks:fuzz:Source"] = "$.monitor.name",
            ["Grace:Webhooks:fuzz:Message"] = "$.msg",
            ["Grace:Webhooks:fuzz:Fingerprint"] = "$.monitor.id",
            ["Grace:Webhooks:fuzz:Resolved"] = "$.heartbeat.status",
            ["Grace:Webhooks:fuzz:ResolvedValues:0"] = "1",
        }), s => s.AddSingleton<ILogEventSink>(errors)).Start();
        using var key = host.IngestClient();
        using var person = host.ClientWithCookie(await host.SignInAsync("admin", TestCatalog.AdminPassword));
        var random = new Random(Seed);
        var statuses = new Dictionary<int, int>();
        var started = DateTime.UtcNow;
        for (var i = 0; i < Requests; i++)
        {
            var pathIndex = random.Next(Paths.Length);
            var path = Paths[pathIndex].Replace("{id}", Guid.NewGuid().ToString(), StringComparison.Ordinal);
            var body = Mutate(random, Encoding.UTF8.GetBytes(Valid[random.Next(Valid.Length)]));
            var content = new ByteArrayContent(body);
            content.Headers.ContentType = random.Next(20) == 0
                ? MediaTypeHeaderValue.Parse(ContentTypes[random.Next(4)])
                : new MediaTypeHeaderValue("application/json");
            var client = path.StartsWith("/api/missions", StringComparison.Ordinal) || path.StartsWith("/api/incidents", StringComparison.Ordinal) ? person : key;
            using var response = await client.PostAsync(path, content);
            var status = (int)response.StatusCode;
            statuses[status] = statuses.GetValueOrDefault(status) + 1;
            var answer = await response.Content.ReadAsStringAsync();
            Assert.True(status < 500, $"request {i} to {path} got {status}: {Encoding.UTF8.GetString(body)}\n{answer}");
            if (status >= 400)
            {
                Assert.True(response.Content.Headers.ContentType?.MediaType == "application/problem+json", $"request {i} to {path} got {status} without a problem document: {answer}");
            }
        }

        output.WriteLine($"{Requests} requests in {(DateTime.UtcNow - started).TotalSeconds:F1} s (seed {Seed}): "
            + string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key}×{s.Value}")));
        Assert.True(errors.Lines.IsEmpty, "a client's mistake was logged at Error:\n" + string.Join("\n", errors.Lines.Take(10)));
        await Task.Delay(500);
        await using var db = host.CreateDb();
        // A mutated body may still be valid (its incident is the fuzz's own); Grace's log sources must not appear.
        var sources = await db.Incidents.AsNoTracking().Select(i => i.Source).Distinct().ToListAsync();
        var own = sources.Where(s => GraceLogSources.Any(p => s.StartsWith(p, StringComparison.OrdinalIgnoreCase))).ToList();
        Assert.True(own.Count == 0, "incidents from Grace's own log: " + string.Join(", ", own));
    }
}
