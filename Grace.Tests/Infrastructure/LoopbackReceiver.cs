using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Grace.Tests.Infrastructure;

/// <summary>One HTTP request as a receiver got it.</summary>
public sealed record ReceivedRequest(string Method, string Path, IReadOnlyDictionary<string, string> Headers, string Body, DateTimeOffset At);

/// <summary>
/// A real HTTP server on a loopback port (Kestrel) standing in for a webhook, Slack or Teams: it
/// records every request and answers with the statuses it is told to, in order.
/// </summary>
public sealed class LoopbackReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<(int Status, string Body)> _answers = new();
    private readonly ConcurrentQueue<ReceivedRequest> _received = new();

    private LoopbackReceiver(WebApplication app) => _app = app;

    public string Url { get; private set; } = "";

    /// <summary>What is answered once the queued answers are used up.</summary>
    public (int Status, string Body) Default { get; set; } = (200, "ok");

    public IReadOnlyList<ReceivedRequest> Received => _received.ToList();

    public static async Task<LoopbackReceiver> StartAsync(int port = 0)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        var app = builder.Build();
        var receiver = new LoopbackReceiver(app);
        app.Run(async context =>
        {
            using var reader = new StreamReader(context.Request.Body);
            var body = await reader.ReadToEndAsync();
            receiver._received.Enqueue(new ReceivedRequest(context.Request.Method, context.Request.Path + context.Request.QueryString,
                context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase), body, DateTimeOffset.UtcNow));
            var (status, answer) = receiver._answers.TryDequeue(out var next) ? next : receiver.Default;
            context.Response.StatusCode = status;
            context.Response.ContentType = answer.StartsWith('{') ? "application/json" : "text/plain";
            await context.Response.WriteAsync(answer);
        });
        await app.StartAsync();
        receiver.Url = app.Urls.First();
        return receiver;
    }

    /// <summary>Answers the next requests with these statuses, in order.</summary>
    public void AnswerNext(params (int Status, string Body)[] answers)
    {
        foreach (var answer in answers)
        {
            _answers.Enqueue(answer);
        }
    }

    /// <summary>Polls until <paramref name="count"/> requests have arrived, or fails saying how many did.</summary>
    public async Task<IReadOnlyList<ReceivedRequest>> WaitForAsync(int count, int timeoutSeconds = 20)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(timeoutSeconds); ; await Task.Delay(50))
        {
            if (_received.Count >= count)
            {
                return Received;
            }

            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException($"The receiver got {_received.Count} request(s), expected {count}, within {timeoutSeconds} s.");
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
