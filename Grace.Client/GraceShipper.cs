using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Threading.Channels;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace Grace.Client;

/// <summary>What the shipper has done so far.</summary>
/// <param name="Sent">Events Grace confirmed it stored.</param>
/// <param name="Dropped">Events dropped because the buffer was full, or still held when shutdown gave up.</param>
/// <param name="Refused">Events Grace refused for good (a bad key, a 4xx), or dropped itself and said so.</param>
/// <param name="Buffered">Events waiting, including the batch being sent.</param>
public sealed record GraceShipperStatistics(long Sent, long Dropped, long Refused, int Buffered);

/// <summary>
/// The one part of Grace.Client that talks to Grace: a bounded buffer the logging call only adds
/// to (never waiting, never throwing), and one background loop that sends it in batches to
/// <c>POST /api/signals</c>, retrying with backoff for as long as Grace is away. What does not fit
/// the buffer is dropped and counted, and Grace is sent one event saying how many once it answers.
/// </summary>
public sealed class GraceShipper : IDisposable, IAsyncDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };

    private readonly GraceClientOptions _options;
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly TimeProvider _time;
    private readonly Channel<GraceEvent> _channel = Channel.CreateUnbounded<GraceEvent>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _abort = new();
    private readonly ResiliencePipeline<HttpResponseMessage> _pipeline;
    private readonly Task _loop;
    private readonly string _source;

    // Counted by hand, not by the channel: the batch in flight stays inside the capacity, so
    // "fits the buffer" means the same thing while Grace is away as when it is up.
    private int _pending;
    private long _sent;
    private long _dropped;
    private long _refused;
    private long _droppedUnreported;
    private int _disposed;

    public GraceShipper(GraceClientOptions options, HttpMessageHandler? handler = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _time = time ?? TimeProvider.System;
        _source = GraceEvent.Cut(options.SourceOrDefault, GraceEvent.MaxShort);
        _ownsHttp = true;
        _http = handler is null ? new HttpClient() : new HttpClient(handler, disposeHandler: false);
        _http.BaseAddress = options.Endpoint;
        // Each attempt has its own timeout in the pipeline; the client's own would cut retries short.
        _http.Timeout = Timeout.InfiniteTimeSpan;
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", options.ApiKey);
        _pipeline = BuildPipeline(options, _time);
        _loop = Task.Run(RunAsync);
    }

    /// <summary>The service name events are sent under.</summary>
    public string Source => _source;

    public GraceShipperStatistics Statistics => new(Interlocked.Read(ref _sent), Interlocked.Read(ref _dropped), Interlocked.Read(ref _refused), Volatile.Read(ref _pending));

    /// <summary>Adds an event if it fits; never waits and never throws.</summary>
    internal bool TryEnqueue(GraceEvent item)
    {
        if (Interlocked.Increment(ref _pending) > _options.BufferCapacity || Volatile.Read(ref _disposed) != 0 || !_channel.Writer.TryWrite(item))
        {
            Interlocked.Decrement(ref _pending);
            Interlocked.Increment(ref _dropped);
            Interlocked.Increment(ref _droppedUnreported);
            return false;
        }

        return true;
    }

    internal Dictionary<string, string> NewLabels()
    {
        var labels = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in _options.Labels)
        {
            GraceEvent.AddLabel(labels, name, value);
        }

        return labels;
    }

    internal DateTimeOffset Now => _time.GetUtcNow();

    private static ResiliencePipeline<HttpResponseMessage> BuildPipeline(GraceClientOptions options, TimeProvider time) =>
        new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                // Grace away, restarting, or its intake full: keep trying until shutdown; the buffer bounds the cost.
                ShouldHandle = new PredicateBuilder<HttpResponseMessage>()
                    .Handle<HttpRequestException>()
                    .Handle<TimeoutRejectedException>()
                    .HandleResult(r => r.StatusCode is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests || (int)r.StatusCode >= 500),
                MaxRetryAttempts = int.MaxValue,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(200),
                MaxDelay = TimeSpan.FromSeconds(options.MaxRetryDelaySeconds),
                // Grace's 429 and 503 say when to come back.
                DelayGenerator = args => ValueTask.FromResult(args.Outcome.Result?.Headers.RetryAfter?.Delta is { } wait
                    ? (TimeSpan?)TimeSpan.FromTicks(Math.Min(wait.Ticks, TimeSpan.FromSeconds(options.MaxRetryDelaySeconds).Ticks))
                    : null),
                OnRetry = args =>
                {
                    args.Outcome.Result?.Dispose();
                    return ValueTask.CompletedTask;
                },
            })
            .AddTimeout(TimeSpan.FromSeconds(options.RequestTimeoutSeconds))
            .Build();

    private async Task RunAsync()
    {
        var batch = new List<GraceEvent>(_options.BatchSize);
        try
        {
            while (await _channel.Reader.WaitToReadAsync(_abort.Token).ConfigureAwait(false))
            {
                // Bounded by count and by a rough size, so a run of long stack traces does not make a body Grace refuses.
                var bytes = 0L;
                while (batch.Count < _options.BatchSize && bytes < _options.MaxBatchBytes && _channel.Reader.TryRead(out var item))
                {
                    batch.Add(item);
                    bytes += SizeOf(item);
                }

                await SendAsync(batch).ConfigureAwait(false);
                Interlocked.Add(ref _pending, -batch.Count);
                batch.Clear();
                ReportDrops();
            }
        }
        catch (OperationCanceledException) when (_abort.IsCancellationRequested)
        {
            // Shutdown gave up waiting: what is still held is lost, and said so below.
        }
        catch (Exception ex)
        {
            // Nothing here may reach the service; a bug in the shipper stops shipping, loudly in diagnostics.
            Say($"Grace.Client stopped sending after an unexpected error: {ex}");
        }

        var left = batch.Count;
        while (_channel.Reader.TryRead(out _))
        {
            left++;
        }

        if (left > 0)
        {
            Interlocked.Add(ref _dropped, left);
            Say($"Grace.Client dropped {left} events it still held when the service stopped (Grace did not take them within {_options.ShutdownTimeoutSeconds:G} s).");
        }
    }

    private static long SizeOf(GraceEvent item)
    {
        long size = 128 + item.Source.Length + item.Message.Length + (item.MessageTemplate?.Length ?? 0) + (item.ExceptionType?.Length ?? 0);
        foreach (var (name, value) in item.Labels ?? [])
        {
            size += name.Length + value.Length + 8;
        }

        // Characters to UTF-8 bytes, with room for JSON escapes (a stack trace's newlines and quotes).
        return size * 3 / 2;
    }

    private async Task SendAsync(List<GraceEvent> batch)
    {
        using var response = await _pipeline.ExecuteAsync(
            async (events, token) =>
            {
                using var content = JsonContent.Create(events, options: Json);
                return await _http.PostAsync(new Uri("api/signals", UriKind.Relative), content, token).ConfigureAwait(false);
            },
            batch,
            _abort.Token).ConfigureAwait(false);
        if (response.IsSuccessStatusCode)
        {
            var dropped = 0;
            try
            {
                dropped = (await response.Content.ReadFromJsonAsync<AcceptedAnswer>(Json, _abort.Token).ConfigureAwait(false))?.Dropped ?? 0;
            }
            catch (JsonException)
            {
            }

            Interlocked.Add(ref _sent, batch.Count - dropped);
            if (dropped > 0)
            {
                Interlocked.Add(ref _refused, dropped);
                Say($"Grace took {batch.Count - dropped} events and dropped {dropped}: its intake was full.");
            }

            return;
        }

        if (response.StatusCode == HttpStatusCode.RequestEntityTooLarge && batch.Count > 1)
        {
            // Grace's body limit is smaller than this batch: each half goes on its own, down to single events.
            var half = batch.Count / 2;
            await SendAsync(batch[..half]).ConfigureAwait(false);
            await SendAsync(batch[half..]).ConfigureAwait(false);
            return;
        }

        // A 4xx other than 408/429 will not get better by sending it again (a revoked key, a body Grace refuses).
        Interlocked.Add(ref _refused, batch.Count);
        var body = await response.Content.ReadAsStringAsync(_abort.Token).ConfigureAwait(false);
        Say($"Grace refused {batch.Count} events with HTTP {(int)response.StatusCode}: {GraceEvent.Cut(body, 500)}");
    }

    /// <summary>After a delivery, one event telling Grace how many were dropped since the last one said so.</summary>
    private void ReportDrops()
    {
        var dropped = Interlocked.Exchange(ref _droppedUnreported, 0);
        if (dropped == 0)
        {
            return;
        }

        var message = $"Grace.Client in {_source} dropped {dropped} error events: its buffer of {_options.BufferCapacity} was full while Grace was slow or away.";
        Say(message);
        var labels = NewLabels();
        labels["grace.client.dropped"] = dropped.ToString(System.Globalization.CultureInfo.InvariantCulture);
        // Outside the capacity on purpose: it is one event, and it is the one that says what the others were.
        Interlocked.Increment(ref _pending);
        if (!_channel.Writer.TryWrite(new GraceEvent(_source, message, "Error", Now, "Grace.Client in {Source} dropped {Count} error events: its buffer of {Capacity} was full while Grace was slow or away.", null, labels)))
        {
            Interlocked.Decrement(ref _pending);
        }
    }

    private void Say(string message)
    {
        try
        {
            if (_options.Diagnostics is { } diagnostics)
            {
                diagnostics(message);
            }
            else
            {
                Trace.TraceWarning(message);
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A broken diagnostics callback must not stop the shipping.
        }
    }

    /// <summary>Sends what is buffered, waiting up to <see cref="GraceClientOptions.ShutdownTimeoutSeconds"/>; then drops and counts the rest.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _channel.Writer.TryComplete();
        var finished = await Task.WhenAny(_loop, Task.Delay(TimeSpan.FromSeconds(_options.ShutdownTimeoutSeconds), _time)).ConfigureAwait(false) == _loop;
        if (!finished)
        {
            await _abort.CancelAsync().ConfigureAwait(false);
            await _loop.ConfigureAwait(false);
        }

        _abort.Dispose();
        if (_ownsHttp)
        {
            _http.Dispose();
        }
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private sealed record AcceptedAnswer(int Accepted, int Dropped);
}
