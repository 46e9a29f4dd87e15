using System.IO.Compression;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Grace.Benchmarks.Harness;
using Grace.Web.Otlp;
using Grace.Web.Otlp.Proto.Collector;
using Grace.Web.Otlp.Proto.Common;
using Grace.Web.Otlp.Proto.Logs;
using Grace.Web.Otlp.Proto.Resource;
using Microsoft.Extensions.DependencyInjection;

namespace Grace.Benchmarks;

/// <summary>
/// OTLP/HTTP log ingestion against the JSON batch endpoint in the same run, on the same server:
/// the same records (an error with a template, two template values, an exception with a stack
/// trace, trace and span ids, five resource attributes) sent as OTLP protobuf, OTLP protobuf
/// gzipped, OTLP JSON, and as Grace's own JSON to <c>/api/signals</c>. Every answer means stored.
/// </summary>
internal sealed class OtlpDriver(TextWriter output, int requests, int batch)
{
    private const string Stack = "System.InvalidOperationException: Payment gateway timed out after 30 s\n   at Shop.Checkout.PaymentStep.ChargeAsync(Order order) in /src/Shop/Checkout/PaymentStep.cs:line 88\n   at Shop.Checkout.CheckoutPipeline.RunAsync(Order order) in /src/Shop/Checkout/CheckoutPipeline.cs:line 41\n   at Shop.Api.OrdersController.Post(OrderRequest request) in /src/Shop/Api/OrdersController.cs:line 27";

    public async Task RunAsync()
    {
        await using var host = new BenchmarkHost();
        using var client = host.Client();
        var counters = host.Services.GetRequiredService<OtlpCounters>();

        var export = Export();
        var protobuf = export.ToByteArray();
        var gzip = Gzip(protobuf);
        var otlpJson = Encoding.UTF8.GetBytes(OtlpJsonOf(export));
        var signals = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(Enumerable.Range(0, batch).Select(i => new
        {
            source = "shop/checkout-api",
            message = $"Charging order {i} failed: Payment gateway timed out after 30 s\n{Stack}",
            severity = "Error",
            messageTemplate = $"Charging order {{OrderId}} failed ({i % 50})",
            exceptionType = "System.InvalidOperationException",
            labels = new Dictionary<string, string>
            {
                ["trace_id"] = "5b8efff798038103d269b633813fc60c", ["span_id"] = "eee19b7ec3c1b174", ["host.name"] = "web-3",
                ["service.version"] = "1.4.2", ["deployment.environment.name"] = "production", ["otel.scope.name"] = "Shop.Checkout.PaymentStep",
            },
        })));
        output.WriteLine($"otlp: {requests} requests of {batch} records each; bodies: OTLP protobuf {protobuf.Length:N0} B, gzipped {gzip.Length:N0} B, OTLP JSON {otlpJson.Length:N0} B, Grace JSON {signals.Length:N0} B");

        // A short warm-up of each path so JIT and the first group commits are not in the figures.
        foreach (var (path, body, type, encoding) in Paths())
        {
            await LoadDriver.LoadAsync(client, Math.Max(4, requests / 20), () => Request(path, body, type, encoding));
        }

        var rows = new List<(string Name, double RecordsPerSecond, List<double> Ms, int Bytes)>();
        foreach (var (path, body, type, encoding) in Paths())
        {
            var before = counters.Signals;
            var (perSecond, ms) = await LoadDriver.LoadAsync(client, requests, () => Request(path, body, type, encoding));
            var name = path == "/api/signals" ? "Grace JSON batch (POST /api/signals)" : $"OTLP {(type.Contains("json", StringComparison.Ordinal) ? "JSON" : "protobuf")}{(encoding is null ? "" : " + gzip")} (POST /v1/logs)";
            if (path != "/api/signals" && counters.Signals - before != (long)requests * batch)
            {
                throw new InvalidOperationException($"{name}: {counters.Signals - before} records became signals, expected {(long)requests * batch}.");
            }

            rows.Add((name, perSecond * batch, ms, body.Length));
            output.WriteLine($"otlp: {name}: {perSecond * batch:N0} records/s ({Stats.Summary(ms)}); load average {Machine.Load()}");
        }

        output.WriteLine();
        output.WriteLine($"| Path ({batch} records a request, 64 in flight) | Records/s | Latency per request | Body |");
        output.WriteLine("|---|---:|---|---:|");
        foreach (var row in rows)
        {
            output.WriteLine($"| {row.Name} | {row.RecordsPerSecond:N0} | p50 {Stats.Percentile(row.Ms, 0.5):0.0} ms, p99 {Stats.Percentile(row.Ms, 0.99):0.0} ms | {row.Bytes:N0} B |");
        }

        IEnumerable<(string Path, byte[] Body, string Type, string? Encoding)> Paths() =>
        [
            ("/api/signals", signals, "application/json", null),
            ("/v1/logs", protobuf, "application/x-protobuf", null),
            ("/v1/logs", gzip, "application/x-protobuf", "gzip"),
            ("/v1/logs", otlpJson, "application/json", null),
        ];
    }

    private static HttpRequestMessage Request(string path, byte[] body, string type, string? encoding)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue(type);
        if (encoding is not null)
        {
            content.Headers.ContentEncoding.Add(encoding);
        }

        return new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
    }

    private ExportLogsServiceRequest Export()
    {
        static KeyValue Attr(string key, string value) => new() { Key = key, Value = new AnyValue { StringValue = value } };
        var scope = new ScopeLogs { Scope = new InstrumentationScope { Name = "Shop.Checkout.PaymentStep" } };
        for (var i = 0; i < batch; i++)
        {
            scope.LogRecords.Add(new LogRecord
            {
                TimeUnixNano = (ulong)DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000UL,
                SeverityNumber = SeverityNumber.Error,
                SeverityText = "Error",
                // The .NET SDK's shape: the template as the body, its values as attributes.
                Body = new AnyValue { StringValue = $"Charging order {{OrderId}} failed ({i % 50})" },
                Attributes =
                {
                    new KeyValue { Key = "OrderId", Value = new AnyValue { IntValue = i } },
                    Attr("exception.type", "InvalidOperationException"),
                    Attr("exception.message", "Payment gateway timed out after 30 s"),
                    Attr("exception.stacktrace", Stack),
                },
                TraceId = ByteString.CopyFrom(Convert.FromHexString("5b8efff798038103d269b633813fc60c")),
                SpanId = ByteString.CopyFrom(Convert.FromHexString("eee19b7ec3c1b174")),
            });
        }

        return new ExportLogsServiceRequest
        {
            ResourceLogs =
            {
                new ResourceLogs
                {
                    Resource = new Resource
                    {
                        Attributes =
                        {
                            Attr("service.name", "checkout-api"), Attr("service.namespace", "shop"), Attr("service.version", "1.4.2"),
                            Attr("deployment.environment.name", "production"), Attr("host.name", "web-3"),
                        },
                    },
                    ScopeLogs = { scope },
                },
            },
        };
    }

    /// <summary>OTLP JSON: proto3 JSON with the ids in hex, as an SDK or Collector writes it.</summary>
    private static string OtlpJsonOf(ExportLogsServiceRequest export)
    {
        var json = JsonFormatter.Default.Format(export);
        var traceBase64 = Convert.ToBase64String(Convert.FromHexString("5b8efff798038103d269b633813fc60c"));
        var spanBase64 = Convert.ToBase64String(Convert.FromHexString("eee19b7ec3c1b174"));
        return json.Replace($"\"{traceBase64}\"", "\"5b8efff798038103d269b633813fc60c\"", StringComparison.Ordinal)
            .Replace($"\"{spanBase64}\"", "\"eee19b7ec3c1b174\"", StringComparison.Ordinal);
    }

    private static byte[] Gzip(byte[] bytes)
    {
        using var output = new MemoryStream();
        using (var zip = new GZipStream(output, CompressionLevel.Fastest))
        {
            zip.Write(bytes);
        }

        return output.ToArray();
    }
}
