using System.IO.Compression;
using Google.Protobuf;
using Grace.Engine.Capture;
using Grace.Web.Api;
using Grace.Web.Otlp.Proto.Collector;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Grace.Web.Otlp;

/// <summary>The two encodings OTLP/HTTP defines; the answer is always in the request's.</summary>
internal enum OtlpEncoding
{
    Protobuf,
    Json,
}

/// <summary>
/// <c>POST /v1/logs</c>: the OTLP/HTTP logs export (what an OpenTelemetry SDK or Collector's
/// <c>otlphttp</c> exporter sends). Records at the severity threshold and above become signals
/// through the same intake and store receipt as <c>/api/signals</c>, so a 200 means they are stored.
/// </summary>
public static class OtlpLogsEndpoint
{
    public const string Path = "/v1/logs";
    public const string ProtobufType = "application/x-protobuf";
    public const string JsonType = "application/json";

    public static IEndpointRouteBuilder MapOtlpEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost(Path, ExportAsync)
            .WithName("OtlpExportLogs")
            // No Accepts metadata: routing would then pass other content types to the console's fallback page
            // (a 200 of HTML); this endpoint answers them with its own 415.
            .Produces(StatusCodes.Status200OK, contentType: ProtobufType, additionalContentTypes: [JsonType])
            .DisableAntiforgery()
            // The signal API's scope: an OTLP log record is a signal by another encoding.
            .RequireIngestScope(Grace.Data.Entities.ApiKeyScopes.Signals)
            .RequireIngestionRateLimit();

        // An SDK given only a base endpoint (OTEL_EXPORTER_OTLP_ENDPOINT) also exports traces and metrics
        // to /v1/traces and /v1/metrics. They get a 404 that says why (OTLP clients do not retry a 404),
        // not the console's page for a missing address.
        app.MapPost("/v1/{**signal}", () => Results.Problem(statusCode: StatusCodes.Status404NotFound,
                title: "Grace takes OTLP logs only, at /v1/logs.", detail: "Point trace and metric exporters elsewhere, or turn them off (OTEL_TRACES_EXPORTER=none, OTEL_METRICS_EXPORTER=none)."))
            .WithName("OtlpOtherSignals")
            .DisableAntiforgery()
            .AllowAnonymous();

        // What came in over OTLP on this instance since it started: most of a Collector's stream is below
        // the threshold and leaves no incident, so this is where an operator sees it arrived. Signed-in people only.
        app.MapGet("/api/otlp/stats", (OtlpCounters counters) => Results.Ok(new OtlpStats(counters.Requests, counters.Signals, counters.Ignored, counters.Rejected)))
            .WithName("OtlpStats");
        return app;
    }

    /// <summary>This instance's OTLP counts since it started.</summary>
    public sealed record OtlpStats(long Requests, long Signals, long Ignored, long Rejected);

    /// <summary>The request's encoding, from its Content-Type; null for anything else (415).</summary>
    internal static OtlpEncoding? EncodingOf(HttpRequest request)
    {
        var mediaType = request.ContentType is { } type && Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(type, out var parsed) ? parsed.MediaType.Value : null;
        return mediaType switch
        {
            _ when string.Equals(mediaType, ProtobufType, StringComparison.OrdinalIgnoreCase) || string.Equals(mediaType, "application/protobuf", StringComparison.OrdinalIgnoreCase) => OtlpEncoding.Protobuf,
            _ when string.Equals(mediaType, JsonType, StringComparison.OrdinalIgnoreCase) => OtlpEncoding.Json,
            _ => null,
        };
    }

    internal static async Task<IResult> ExportAsync(HttpRequest request, SignalIntake intake, OtlpCounters counters, TimeProvider time,
        IOptionsMonitor<IngestionOptions> ingestion, IOptionsMonitor<OtlpOptions> otlp, CancellationToken cancellationToken)
    {
        if (EncodingOf(request) is not { } encoding)
        {
            return Results.Problem(statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Send OTLP as application/x-protobuf or application/json.",
                detail: $"Content-Type '{request.ContentType}' is not an OTLP/HTTP encoding.");
        }

        var limits = ingestion.CurrentValue;
        var options = otlp.CurrentValue;
        var (body, problem) = await ReadBodyAsync(request, limits.MaxBodyBytes, options.MaxDecompressedBytes, cancellationToken);
        if (body is null)
        {
            return problem!;
        }

        ExportLogsServiceRequest export;
        try
        {
            export = encoding == OtlpEncoding.Json ? OtlpJson.Parse<ExportLogsServiceRequest>(body) : ExportLogsServiceRequest.Parser.ParseFrom(body);
        }
        catch (Exception ex) when (ex is InvalidProtocolBufferException or InvalidJsonException or System.Text.Json.JsonException or FormatException)
        {
            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: $"The body is not an OTLP ExportLogsServiceRequest in {(encoding == OtlpEncoding.Json ? "JSON" : "protobuf")}.",
                detail: ex.Message);
        }

        var batch = OtlpLogMapper.Map(export, options, request.HttpContext.User.Identity?.Name ?? "api", time.GetUtcNow());
        var rejected = (long)batch.Rejected;
        var reasons = batch.RejectedBecause is null ? new List<string>() : [$"{batch.Rejected} records were refused: {batch.RejectedBecause}"];

        // Reserved sources and the key's limits, as for /api/signals; but per record, as OTLP's partial
        // success allows: one service in a Collector's batch breaking a rule does not cost the others theirs.
        var guarded = Guard(request.HttpContext, batch.Signals);
        if (guarded.Refused > 0)
        {
            rejected += guarded.Refused;
            reasons.Add($"{guarded.Refused} records may not be sent with this key: {guarded.Because}");
            batch = batch with { Signals = guarded.Allowed, Rejected = (int)rejected };
        }

        if (batch.Signals.Count > 0)
        {
            var stored = await IngestionExtensions.StoreAsync(intake, batch.Signals, limits, "log records", cancellationToken);
            if (stored is not Accepted<SignalEndpoints.SignalsAccepted> { Value: { } accepted })
            {
                // Nothing taken, or not stored in time: a 503 with Retry-After, which OTLP clients retry.
                return stored;
            }

            if (accepted.Dropped > 0)
            {
                rejected += accepted.Dropped;
                reasons.Add($"{accepted.Dropped} records were dropped because Grace's intake was full (counted on the Overview).");
            }
        }

        counters.Record(batch.Signals.Count - (rejected - batch.Rejected), batch.Ignored, rejected);
        var response = new ExportLogsServiceResponse();
        if (rejected > 0)
        {
            // OTLP clients do not retry a partial success; the message tells the operator what was lost and why.
            response.PartialSuccess = new ExportLogsPartialSuccess { RejectedLogRecords = rejected, ErrorMessage = string.Join(" ", reasons) };
        }

        return encoding == OtlpEncoding.Json
            ? Results.Text(OtlpJson.Format(response), JsonType, statusCode: StatusCodes.Status200OK)
            : Results.Bytes(response.ToByteArray(), ProtobufType);
    }

    private static (List<Signal> Allowed, int Refused, string? Because) Guard(HttpContext context, List<Signal> signals)
    {
        // Signals of one service share source and target, so the verdict is asked once per distinct pair.
        var verdicts = new Dictionary<(string Source, string? Target, string? Type, string? Template), string?>();
        var allowed = new List<Signal>(signals.Count);
        var refused = 0;
        string? because = null;
        foreach (var signal in signals)
        {
            var key = (signal.Source, signal.Target, signal.ExceptionType, signal.MessageTemplate);
            if (!verdicts.TryGetValue(key, out var why))
            {
                why = IngestionGuard.Check(context, [("", signal)]) is { } problem
                    ? (problem as Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult)?.ProblemDetails.Detail ?? "refused"
                    : null;
                verdicts[key] = why;
            }

            if (why is null)
            {
                allowed.Add(signal);
            }
            else
            {
                refused++;
                because ??= why;
            }
        }

        return (allowed, refused, because);
    }

    /// <summary>
    /// Reads the body up to <c>Grace:Ingestion:MaxBodyBytes</c> on the wire and, when it is gzip,
    /// up to <c>Grace:Otlp:MaxDecompressedBytes</c> once inflated: a small body cannot grow without bound.
    /// </summary>
    private static async Task<(byte[]? Body, IResult? Problem)> ReadBodyAsync(HttpRequest request, int maxBytes, int maxInflated, CancellationToken cancellationToken)
    {
        var contentEncoding = request.Headers.ContentEncoding.ToString().Trim();
        var gzip = contentEncoding.Equals("gzip", StringComparison.OrdinalIgnoreCase) || contentEncoding.Equals("x-gzip", StringComparison.OrdinalIgnoreCase);
        if (!gzip && contentEncoding.Length > 0 && !contentEncoding.Equals("identity", StringComparison.OrdinalIgnoreCase))
        {
            return (null, Results.Problem(statusCode: StatusCodes.Status415UnsupportedMediaType, title: $"Content-Encoding '{contentEncoding}' is not supported.",
                detail: "Send the body as it is, or compressed with gzip (Content-Encoding: gzip)."));
        }

        IResult TooLarge(int limit, string key) => Results.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "The request body is too large.",
            detail: $"Bodies are limited to {limit} bytes ({key}); export smaller batches.");
        if (request.ContentLength > maxBytes)
        {
            return (null, TooLarge(maxBytes, "Grace:Ingestion:MaxBodyBytes"));
        }

        var wire = await ReadAtMostAsync(request.Body, maxBytes, cancellationToken);
        if (wire is null)
        {
            return (null, TooLarge(maxBytes, "Grace:Ingestion:MaxBodyBytes"));
        }

        if (!gzip)
        {
            return (wire, null);
        }

        try
        {
            await using var inflating = new GZipStream(new MemoryStream(wire), CompressionMode.Decompress);
            var inflated = await ReadAtMostAsync(inflating, maxInflated, cancellationToken);
            return inflated is null ? (null, TooLarge(maxInflated, "Grace:Otlp:MaxDecompressedBytes, after gzip")) : (inflated, null);
        }
        catch (InvalidDataException ex)
        {
            return (null, Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "The body is not valid gzip.", detail: ex.Message));
        }
    }

    private static async Task<byte[]?> ReadAtMostAsync(Stream stream, int max, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > max)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }
}
