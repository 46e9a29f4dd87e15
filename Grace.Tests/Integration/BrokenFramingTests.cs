using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using Grace.Data;
using Grace.Engine.Capture;
using Grace.Engine.Missions;
using Grace.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Serilog.Core;
using Serilog.Events;

namespace Grace.Tests.Integration;

/// <summary>
/// Issue 13: bodies whose HTTP framing is broken (bad chunk sizes, a missing final chunk, a body cut
/// short or sent too slowly) end in a 4xx problem or a closed connection, never a 500, an Error log
/// line or an incident. Grace runs on real Kestrel, so raw sockets can send what HttpClient never would.
/// </summary>
public sealed class BrokenFramingTests : IAsyncLifetime
{
    private readonly TempFolder _folder = new();
    private readonly ConcurrentQueue<string> _errors = new();
    private readonly ConcurrentQueue<string> _information = new();
    private TestDatabase _database = null!;
    private GraceHost _host = null!;
    private Uri _base = null!;
    private string _key = null!;

    private sealed class Log(ConcurrentQueue<string> errors, ConcurrentQueue<string> information) : ILogEventSink
    {
        public void Emit(LogEvent logEvent)
        {
            (logEvent.Level >= LogEventLevel.Error ? errors : information).Enqueue($"{logEvent.Level} {logEvent.RenderMessage()} {logEvent.Exception?.GetType().Name}");
        }
    }

    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite, _folder);
        _host = new GraceHost(TestCatalog.Settings(_folder).Concat(_database.Settings()), s =>
        {
            s.AddSingleton<ILogEventSink>(new Log(_errors, _information));
            // A slow body is cut off after about three seconds instead of Kestrel's default five.
            s.Configure<KestrelServerOptions>(o => o.Limits.MinRequestBodyDataRate = new MinDataRate(100, TimeSpan.FromSeconds(2)));
        });
        _host.UseKestrel(0);
        _host.StartServer();
        _base = new Uri(_host.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
            .First().Replace("[::]", "127.0.0.1", StringComparison.Ordinal).Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal));
        _key = (await _host.Get<ApiKeyService>().CreateAsync("tests", new Actor("admin", [GraceRoles.Admin]), default)).Key;
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await _database.DisposeAsync();
        _folder.Dispose();
    }

    private async Task AssertNothingFromGracesOwnLogAsync()
    {
        Assert.True(_errors.IsEmpty, "a client's mistake was logged at Error:\n" + string.Join("\n", _errors));
        await Task.Delay(300);
        await using var db = _host.CreateDb();
        var own = await db.Incidents.AsNoTracking().Where(i => i.Source.StartsWith("Grace") || i.Source.StartsWith("Microsoft") || i.Source.StartsWith("Serilog")).Select(i => i.Source).ToListAsync();
        Assert.True(own.Count == 0, "Grace opened incidents from its own log: " + string.Join(", ", own));
    }

    /// <summary>Sends raw bytes on a new connection and returns the status line (empty when the server closed without answering).</summary>
    private async Task<(string Status, string Response)> RawAsync(string head, Func<NetworkStream, Task> body)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(_base.Host, _base.Port);
        var stream = tcp.GetStream();
        var request = head.Replace("\n", "\r\n", StringComparison.Ordinal).Replace("KEY", _key, StringComparison.Ordinal) + "\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        await body(stream);
        var received = new MemoryStream();
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer, timeout.Token)) > 0)
            {
                received.Write(buffer, 0, read);
                var text = Encoding.UTF8.GetString(received.ToArray());
                if (text.Contains("\r\n\r\n", StringComparison.Ordinal) && text.Contains("Content-Length: ", StringComparison.OrdinalIgnoreCase))
                {
                    var length = int.Parse(System.Text.RegularExpressions.Regex.Match(text, "Content-Length: (\\d+)", System.Text.RegularExpressions.RegexOptions.IgnoreCase).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
                    if (Encoding.UTF8.GetByteCount(text[(text.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..]) >= length)
                    {
                        break;
                    }
                }
            }
        }
        catch (IOException)
        {
            // The server reset the connection: what was read so far is the answer.
        }

        var all = Encoding.UTF8.GetString(received.ToArray());
        return (all.Split("\r\n")[0], all);
    }

    private const string ChunkedHead = """
        POST /api/signals HTTP/1.1
        Host: localhost
        Authorization: Bearer KEY
        Content-Type: application/json
        Transfer-Encoding: chunked

        """;

    public static TheoryData<string, string> BrokenFraming => new()
    {
        { "bad chunk size", "ZZ\r\n{}\r\n0\r\n\r\n" },
        { "chunk longer than it says", "2\r\n{\"source\":\"s\"}\r\n0\r\n\r\n" },
        { "no final chunk", "1d\r\n{\"source\":\"s\",\"message\":\"m\"}\r\n" },
    };

    [Theory]
    [MemberData(nameof(BrokenFraming))]
    public async Task Broken_chunked_bodies_get_a_400_problem_not_a_500(string what, string chunks)
    {
        var (status, response) = await RawAsync(ChunkedHead, async s =>
        {
            await s.WriteAsync(Encoding.ASCII.GetBytes(chunks));
            if (what == "no final chunk")
            {
                // The sender stops sending: the body can never complete.
                await Task.Delay(200);
                s.Socket.Shutdown(SocketShutdown.Send);
            }
        });
        if (what == "no final chunk")
        {
            // Kestrel takes the sender's half-close as the end of the connection and sends nothing; what matters is
            // that Grace saw a client's broken request (Information), not a failure of its own.
            Assert.True(status.Length == 0 || status.StartsWith("HTTP/1.1 400", StringComparison.Ordinal), $"{what}: {response}");
            await WaitForAsync(() => _information.Any(l => l.Contains("the client's request was broken", StringComparison.Ordinal)), "the broken request was not noted");
        }
        else
        {
            Assert.True(status.StartsWith("HTTP/1.1 400", StringComparison.Ordinal), $"{what}: {response}");
            Assert.Contains("application/problem+json", response, StringComparison.Ordinal);
        }

        Assert.DoesNotContain("<html", response, StringComparison.OrdinalIgnoreCase);
        await AssertNothingFromGracesOwnLogAsync();
    }

    [Fact]
    public async Task A_body_that_stops_mid_way_or_comes_too_slowly_is_refused_without_a_500()
    {
        const string Head = """
            POST /api/signals HTTP/1.1
            Host: localhost
            Authorization: Bearer KEY
            Content-Type: application/json
            Content-Length: 400

            """;
        var (cut, cutResponse) = await RawAsync(Head, async s =>
        {
            await s.WriteAsync(Encoding.ASCII.GetBytes("{\"source\":\"s\","));
            await Task.Delay(200);
            s.Socket.Shutdown(SocketShutdown.Send);
        });
        Assert.True(cut.Length == 0 || cut.StartsWith("HTTP/1.1 4", StringComparison.Ordinal), cutResponse);
        Assert.DoesNotContain("<html", cutResponse, StringComparison.OrdinalIgnoreCase);

        // Three bytes a second against a minimum of 100: Kestrel gives up after its grace period.
        var started = DateTime.UtcNow;
        var (slow, slowResponse) = await RawAsync(Head, async s =>
        {
            try
            {
                for (var i = 0; i < 20 && DateTime.UtcNow - started < TimeSpan.FromSeconds(8); i++)
                {
                    await s.WriteAsync(Encoding.ASCII.GetBytes("   "));
                    await Task.Delay(1000);
                }
            }
            catch (IOException)
            {
                // The server closed the connection on the slow sender, as it should.
            }
        });
        Assert.True(slow.StartsWith("HTTP/1.1 408", StringComparison.Ordinal) || slow.StartsWith("HTTP/1.1 400", StringComparison.Ordinal), slowResponse);
        Assert.Contains("application/problem+json", slowResponse, StringComparison.Ordinal);
        await AssertNothingFromGracesOwnLogAsync();
    }

    private static async Task WaitForAsync(Func<bool> condition, string what)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(10); !condition(); await Task.Delay(50))
        {
            Assert.True(DateTime.UtcNow < deadline, what);
        }
    }
}
