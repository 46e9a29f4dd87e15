using System.Collections.Concurrent;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Grace.Data;
using Grace.Engine.Capture;
using Grace.Engine.Missions;
using Grace.Tests.Infrastructure;
using Grace.Web.Otlp;
using Grace.Web.Otlp.Proto.Collector;
using Grace.Web.Otlp.Proto.Common;
using Grace.Web.Otlp.Proto.Logs;
using Grace.Web.Otlp.Proto.Resource;
using Grace.Web.Otlp.Proto.Rpc;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Exporter;
using OpenTelemetry.Logs;
using OpenTelemetry.Resources;
using Serilog;
using Serilog.Sinks.OpenTelemetry;
using LogRecord = Grace.Web.Otlp.Proto.Logs.LogRecord;
using Resource = Grace.Web.Otlp.Proto.Resource.Resource;

namespace Grace.Tests.Integration;

/// <summary>
/// <c>POST /v1/logs</c>: the OpenTelemetry .NET SDK's own exporter (code nobody here wrote) sends to
/// a Grace test host, and hand-made protobuf, JSON and gzip bodies cover what the SDK does not send.
/// </summary>
public sealed class OtlpIngestionTests : IAsyncLifetime
{
    private readonly TempFolder _folder = new();
    private TestDatabase _database = null!;
    private GraceHost _host = null!;
    private string _key = null!;
    private int _port;

    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite, _folder);
        _host = new GraceHost(TestCatalog.Settings(_folder).Concat(_database.Settings()).Concat(new Dictionary<string, string?>
        {
            ["Grace:Ingestion:MaxBodyBytes"] = (8 * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Grace:Otlp:MaxDecompressedBytes"] = (12 * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Grace:Ingestion:ApiKeyHeader"] = "X-Grace-Key",
        }));
        // A real socket: the SDK's exporter sends synchronously, which the in-memory test server refuses.
        _port = TestCatalog.FreeLoopbackPort();
        _host.UseKestrel(_port);
        _host.Start();
        _key = (await _host.Get<ApiKeyService>().CreateAsync("otel", new Actor("admin", [GraceRoles.Admin]), default)).Key;
    }

    private readonly ExporterDiagnostics _diagnostics = new();

    public async Task DisposeAsync()
    {
        _diagnostics.Dispose();
        await _host.DisposeAsync();
        await _database.DisposeAsync();
        _folder.Dispose();
    }

    /// <summary>A logger factory whose only provider is the OpenTelemetry SDK exporting OTLP/HTTP protobuf to the test host.</summary>
    private ILoggerFactory OpenTelemetryLogging(string service, int batch = 512, OtlpExportCompression compression = OtlpExportCompression.None) =>
        LoggerFactory.Create(logging => logging.AddOpenTelemetry(otel =>
        {
            otel.SetResourceBuilder(ResourceBuilder.CreateEmpty().AddService(service, serviceNamespace: "shop", serviceVersion: "1.4.2")
                .AddAttributes([new("deployment.environment.name", "staging")]));
            otel.IncludeScopes = true;
            otel.AddOtlpExporter((exporter, processor) =>
            {
                exporter.Protocol = OtlpExportProtocol.HttpProtobuf;
                exporter.Endpoint = new Uri($"http://localhost:{_port}/v1/logs");
                exporter.Headers = $"Authorization=Bearer {_key}";
                exporter.Compression = compression;
                exporter.TimeoutMilliseconds = 60_000;
                processor.BatchExportProcessorOptions.MaxQueueSize = Math.Max(2048, batch);
                processor.BatchExportProcessorOptions.MaxExportBatchSize = batch;
                processor.BatchExportProcessorOptions.ScheduledDelayMilliseconds = 60_000;
            });
        }));

    [Fact]
    public async Task An_exception_logged_through_the_OpenTelemetry_SDK_becomes_an_incident_with_its_source_type_and_fingerprint()
    {
        using (var logging = OpenTelemetryLogging("checkout-api"))
        {
            var logger = logging.CreateLogger("Shop.Checkout.PaymentStep");
            logger.LogInformation("Order {OrderId} started", 41);
            for (var order = 42; order < 45; order++)
            {
                try
                {
                    throw new InvalidOperationException($"Payment gateway timed out after 30 s for order {order}");
                }
                catch (InvalidOperationException ex)
                {
                    logger.LogError(ex, "Charging order {OrderId} failed", order);
                }
            }

            logger.LogCritical("Card vault unreachable at {Address}", "10.0.0.7:443");
        }

        var incident = await WithDiagnostics(_host.WaitForIncidentAsync(i => i.ExceptionType == "System.InvalidOperationException" && i.Count == 3));
        Assert.Equal("shop/checkout-api", incident.Source);
        Assert.Equal("Charging order {OrderId} failed", incident.Template);
        Assert.Equal(Fingerprinter.Compute("shop/checkout-api", "System.InvalidOperationException", "Charging order {OrderId} failed"), incident.Fingerprint);
        // The sample is the latest repeat; the holes are filled from the record's attributes.
        Assert.Matches(@"^Charging order 4[234] failed: Payment gateway timed out after 30 s for order 4[234]\n", incident.SampleMessage);
        Assert.Contains("at Grace.Tests.Integration.OtlpIngestionTests", incident.SampleMessage, StringComparison.Ordinal);
        var labels = JsonDocument.Parse(incident.Labels!).RootElement;
        Assert.Equal("staging", labels.GetProperty("deployment.environment.name").GetString());
        Assert.Equal("1.4.2", labels.GetProperty("service.version").GetString());
        Assert.Equal("Shop.Checkout.PaymentStep", labels.GetProperty("otel.scope.name").GetString());

        var critical = await _host.WaitForIncidentAsync(i => i.Template == "Card vault unreachable at {Address}");
        Assert.Equal(Grace.Data.Entities.Severity.Critical, critical.Severity);
        Assert.Equal("Card vault unreachable at 10.0.0.7:443", critical.SampleMessage);

        // The information record arrived, was counted, and made nothing.
        var counters = _host.Get<OtlpCounters>();
        Assert.True(counters.Ignored >= 1);
        await using var db = _host.CreateDb();
        Assert.DoesNotContain(await db.Incidents.AsNoTracking().ToListAsync(), i => i.Template.Contains("started", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Serilogs_own_OpenTelemetry_sink_sends_the_template_attribute_that_becomes_the_fingerprint()
    {
        // A second real client nobody here wrote: Serilog.Sinks.OpenTelemetry, HTTP/protobuf.
        using (var log = new LoggerConfiguration()
            .WriteTo.OpenTelemetry(o =>
            {
                o.LogsEndpoint = $"http://localhost:{_port}/v1/logs";
                o.Protocol = OtlpProtocol.HttpProtobuf;
                o.Headers = new Dictionary<string, string> { ["Authorization"] = $"Bearer {_key}" };
                o.ResourceAttributes = new Dictionary<string, object> { ["service.name"] = "inventory-api" };
                o.IncludedData = IncludedData.MessageTemplateTextAttribute | IncludedData.TraceIdField | IncludedData.SpanIdField;
            })
            .CreateLogger())
        {
            foreach (var sku in new[] { "A-1", "B-2" })
            {
                log.ForContext("SourceContext", "Inventory.Stock").Error(new TimeoutException($"stock database timed out for {sku}"), "Loading stock {Sku} failed", sku);
            }

            log.Warning("Stock for {Sku} is low", "C-3");
        }

        var incident = await WithDiagnostics(_host.WaitForIncidentAsync(i => i.Source == "inventory-api" && i.Count == 2));
        Assert.Equal("Loading stock {Sku} failed", incident.Template);
        Assert.Equal("System.TimeoutException", incident.ExceptionType);
        Assert.Equal(Fingerprinter.Compute("inventory-api", "System.TimeoutException", "Loading stock {Sku} failed"), incident.Fingerprint);
        Assert.Matches("^Loading stock \"?[AB]-[12]\"? failed: stock database timed out", incident.SampleMessage);
        await using var db = _host.CreateDb();
        Assert.DoesNotContain(await db.Incidents.AsNoTracking().ToListAsync(), i => i.Template.Contains("is low", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_batch_of_10000_records_from_the_SDK_with_gzip_is_taken_whole()
    {
        const int Records = 10_000;
        var counters = _host.Get<OtlpCounters>();
        var before = (counters.Requests, counters.Signals, counters.Rejected);
        using (var logging = OpenTelemetryLogging("bulk-api", batch: Records, compression: OtlpExportCompression.GZip))
        {
            var logger = logging.CreateLogger("Shop.Bulk");
            for (var i = 0; i < Records; i++)
            {
                logger.LogError("Reserving stock for line {Line} of basket {Basket} failed", i, Guid.NewGuid());
            }
        }

        var incident = await WithDiagnostics(_host.WaitForIncidentAsync(i => i.Source == "shop/bulk-api" && i.Count == Records, timeoutSeconds: 60));
        Assert.Equal("Reserving stock for line {Line} of basket {Basket} failed", incident.Template);
        Assert.Equal(before.Requests + 1, counters.Requests);
        Assert.Equal(before.Signals + Records, counters.Signals);
        Assert.Equal(before.Rejected, counters.Rejected);
    }

    /// <summary>A failed wait says what the SDK's exporter reported (its EventSource), and what Grace counted.</summary>
    private async Task<T> WithDiagnostics<T>(Task<T> wait)
    {
        try
        {
            return await wait;
        }
        catch (TimeoutException ex)
        {
            var counters = _host.Get<OtlpCounters>();
            await using var db = _host.CreateDb();
            var incidents = await db.Incidents.AsNoTracking().ToListAsync();
            throw new TimeoutException($"{ex.Message} Grace counted {counters.Requests} requests, {counters.Signals} signals, {counters.Ignored} ignored, {counters.Rejected} rejected; "
                + $"incidents: {string.Join("; ", incidents.Select(i => $"{i.Source} '{i.Template}' x{i.Count} type {i.ExceptionType} labels {i.Labels}"))}\nExporter:\n{_diagnostics}", ex);
        }
    }

    private HttpClient Client()
    {
        var client = _host.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _key);
        return client;
    }

    internal static ExportLogsServiceRequest Request(string service, params LogRecord[] records) => new()
    {
        ResourceLogs =
        {
            new ResourceLogs
            {
                Resource = new Resource { Attributes = { Attr("service.name", service), Attr("host.name", "web-3") } },
                ScopeLogs = { new ScopeLogs { Scope = new InstrumentationScope { Name = "orders" }, LogRecords = { records } } },
            },
        },
    };

    /// <summary>A message of one large bytes field, to make bodies of a chosen size.</summary>
    private static AnyValue Zeros(int size) => new() { BytesValue = ByteString.CopyFrom(new byte[size]) };

    private static KeyValue Attr(string key, string value) => new() { Key = key, Value = new AnyValue { StringValue = value } };

    internal static ByteArrayContent Protobuf(IMessage message, bool gzip = false)
    {
        var bytes = message.ToByteArray();
        if (gzip)
        {
            using var output = new MemoryStream();
            using (var zip = new GZipStream(output, CompressionLevel.Fastest))
            {
                zip.Write(bytes);
            }

            bytes = output.ToArray();
        }

        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-protobuf");
        if (gzip)
        {
            content.Headers.ContentEncoding.Add("gzip");
        }

        return content;
    }

    [Fact]
    public async Task Protobuf_with_gzip_maps_the_exception_attributes_template_attribute_and_trace_ids()
    {
        var traceId = Convert.FromHexString("5b8efff798038103d269b633813fc60c");
        var spanId = Convert.FromHexString("eee19b7ec3c1b174");
        var record = new LogRecord
        {
            SeverityNumber = SeverityNumber.Error2,
            Body = new AnyValue { StringValue = "order 981 could not be saved" },
            Attributes =
            {
                Attr("exception.type", "Npgsql.PostgresException"),
                Attr("exception.message", "53300: too many connections"),
                Attr("exception.stacktrace", "   at Orders.Save()"),
                Attr("message_template.text", "order {Id} could not be saved"),
                Attr("code.function.name", "Orders.Save"),
            },
            TraceId = ByteString.CopyFrom(traceId),
            SpanId = ByteString.CopyFrom(spanId),
            TimeUnixNano = 1_767_225_600_000_000_000UL,
        };
        using var client = Client();
        using var response = await client.PostAsync("/v1/logs", Protobuf(Request("orders", record), gzip: true));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/x-protobuf", response.Content.Headers.ContentType?.MediaType);
        var answer = ExportLogsServiceResponse.Parser.ParseFrom(await response.Content.ReadAsByteArrayAsync());
        Assert.Null(answer.PartialSuccess);

        var incident = await _host.WaitForIncidentAsync(i => i.Source == "orders");
        Assert.Equal("Npgsql.PostgresException", incident.ExceptionType);
        Assert.Equal("order {Id} could not be saved", incident.Template);
        Assert.Equal("order 981 could not be saved: 53300: too many connections\n   at Orders.Save()", incident.SampleMessage);
        var labels = JsonDocument.Parse(incident.Labels!).RootElement;
        Assert.Equal("5b8efff798038103d269b633813fc60c", labels.GetProperty("trace_id").GetString());
        Assert.Equal("eee19b7ec3c1b174", labels.GetProperty("span_id").GetString());
        Assert.Equal("web-3", labels.GetProperty("host.name").GetString());
        Assert.Equal("Orders.Save", labels.GetProperty("code.function.name").GetString());
    }

    [Fact]
    public async Task OTLP_JSON_with_hex_ids_integer_enums_and_camel_case_is_read_and_answered_in_JSON()
    {
        const string Json = """
            {"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"billing"}},{"key":"k8s.pod.uid","value":{"intValue":"12"}}]},
              "scopeLogs":[{"scope":{"name":"billing.invoices"},"logRecords":[
                {"timeUnixNano":"1767225600000000000","severityNumber":17,"severityText":"Error","body":{"stringValue":"invoice 7 failed"},
                 "traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331",
                 "attributes":[{"key":"exception.type","value":{"stringValue":"System.TimeoutException"}}]},
                {"severityNumber":"SEVERITY_NUMBER_INFO","body":{"stringValue":"invoice 8 sent"}},
                {"severityText":"FATAL","body":{"stringValue":"ledger closed"}}]}]}]}
            """;
        using var client = Client();
        using var response = await client.PostAsync("/v1/logs", new StringContent(Json, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        // An empty ExportLogsServiceResponse: no partialSuccess, everything taken.
        Assert.Empty(JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.EnumerateObject());

        var incident = await _host.WaitForIncidentAsync(i => i.Source == "billing" && i.ExceptionType == "System.TimeoutException");
        var labels = JsonDocument.Parse(incident.Labels!).RootElement;
        Assert.Equal("0af7651916cd43dd8448eb211c80319c", labels.GetProperty("trace_id").GetString());
        Assert.Equal("b7ad6b7169203331", labels.GetProperty("span_id").GetString());
        Assert.Equal("12", labels.GetProperty("k8s.pod.uid").GetString());
        var fatal = await _host.WaitForIncidentAsync(i => i.Source == "billing" && i.SampleMessage == "ledger closed");
        Assert.Equal(Grace.Data.Entities.Severity.Critical, fatal.Severity);
    }

    [Fact]
    public async Task A_record_with_a_malformed_trace_id_is_rejected_as_a_partial_success_and_the_rest_taken()
    {
        const string Json = """
            {"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"partial"}}]},"scopeLogs":[{"logRecords":[
              {"severityNumber":17,"body":{"stringValue":"good one"}},
              {"severityNumber":17,"body":{"stringValue":"bad one"},"traceId":"abcdef"}]}]}]}
            """;
        using var client = Client();
        using var response = await client.PostAsync("/v1/logs", new StringContent(Json, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var partial = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("partialSuccess");
        Assert.Equal("1", partial.GetProperty("rejectedLogRecords").GetString());
        Assert.Contains("trace_id must be 16 bytes", partial.GetProperty("errorMessage").GetString(), StringComparison.Ordinal);
        await _host.WaitForIncidentAsync(i => i.Source == "partial" && i.SampleMessage == "good one");
    }

    [Fact]
    public async Task Bad_bodies_get_a_4xx_status_message_never_a_500()
    {
        using var client = Client();

        var garbage = new ByteArrayContent([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]);
        garbage.Headers.ContentType = new MediaTypeHeaderValue("application/x-protobuf");
        using (var response = await client.PostAsync("/v1/logs", garbage))
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var status = Status.Parser.ParseFrom(await response.Content.ReadAsByteArrayAsync());
            Assert.Contains("not an OTLP ExportLogsServiceRequest in protobuf", status.Message, StringComparison.Ordinal);
            Assert.Equal(3, status.Code);
        }

        using (var response = await client.PostAsync("/v1/logs", new StringContent("{\"resourceLogs\":[", Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var status = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            Assert.Contains("in JSON", status.GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        using (var response = await client.PostAsync("/v1/logs", new StringContent("{\"resourceLogs\":{\"x\":1}}", Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        }

        var notGzip = new ByteArrayContent("certainly not gzip"u8.ToArray());
        notGzip.Headers.ContentType = new MediaTypeHeaderValue("application/x-protobuf");
        notGzip.Headers.ContentEncoding.Add("gzip");
        using (var response = await client.PostAsync("/v1/logs", notGzip))
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Contains("not valid gzip", Status.Parser.ParseFrom(await response.Content.ReadAsByteArrayAsync()).Message, StringComparison.Ordinal);
        }

        using (var response = await client.PostAsync("/v1/logs", new StringContent("severity=error", Encoding.UTF8, "text/plain")))
        {
            Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        }

        var brotli = Protobuf(Request("x"));
        brotli.Headers.ContentEncoding.Add("br");
        using (var response = await client.PostAsync("/v1/logs", brotli))
        {
            Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        }
    }

    [Fact]
    public async Task A_key_without_signals_write_gets_403_and_a_keys_source_limits_and_reserved_sources_reject_records_as_partial_success()
    {
        var keys = _host.Get<ApiKeyService>();
        var admin = new Actor("admin", [GraceRoles.Admin]);
        var (_, alertsOnly) = await keys.CreateAsync("alerts-only", new ApiKeyLimits(Grace.Data.Entities.ApiKeyScopes.Alerts, [], [], []), admin, default);
        using (var client = _host.CreateClient())
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", alertsOnly);
            using var response = await client.PostAsync("/v1/logs", Protobuf(Request("payments", new LogRecord { SeverityNumber = SeverityNumber.Error, Body = new AnyValue { StringValue = "x" } })));
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            var status = Status.Parser.ParseFrom(await response.Content.ReadAsByteArrayAsync());
            Assert.Equal(7, status.Code);
            Assert.Contains("signals:write", status.Message, StringComparison.Ordinal);
        }

        var (_, shopOnly) = await keys.CreateAsync("shop-only", new ApiKeyLimits(Grace.Data.Entities.ApiKeyScopes.Signals, ["shop-"], [], []), admin, default);
        using (var client = _host.CreateClient())
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", shopOnly);
            var export = Request("shop-cart", new LogRecord { SeverityNumber = SeverityNumber.Error, Body = new AnyValue { StringValue = "cart lost" } });
            export.ResourceLogs.Add(Request("billing", new LogRecord { SeverityNumber = SeverityNumber.Error, Body = new AnyValue { StringValue = "not mine" } }).ResourceLogs);
            export.ResourceLogs.Add(Request("process:demo-worker", new LogRecord { SeverityNumber = SeverityNumber.Error, Body = new AnyValue { StringValue = "forged" } }).ResourceLogs);
            using var response = await client.PostAsync("/v1/logs", Protobuf(export));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var answer = ExportLogsServiceResponse.Parser.ParseFrom(await response.Content.ReadAsByteArrayAsync());
            Assert.Equal(2, answer.PartialSuccess.RejectedLogRecords);
            Assert.Contains("may not be sent with this key", answer.PartialSuccess.ErrorMessage, StringComparison.Ordinal);
        }

        await _host.WaitForIncidentAsync(i => i.Source == "shop-cart");
        await using var db = _host.CreateDb();
        Assert.DoesNotContain(await db.Incidents.AsNoTracking().ToListAsync(), i => i.Source is "billing" or "process:demo-worker");
    }

    [Fact]
    public async Task Traces_and_metrics_get_a_404_status_saying_Grace_takes_logs_only()
    {
        using var client = Client();
        foreach (var path in new[] { "/v1/traces", "/v1/metrics" })
        {
            using var response = await client.PostAsync(path, Protobuf(Request("x")));
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            var status = Status.Parser.ParseFrom(await response.Content.ReadAsByteArrayAsync());
            Assert.Contains("Grace takes OTLP logs only", status.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Bodies_over_the_limits_get_413_on_the_wire_and_after_gzip()
    {
        using var client = Client();
        using (var response = await client.PostAsync("/v1/logs", Protobuf(Zeros(9 * 1024 * 1024))))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
            Assert.Contains("Grace:Ingestion:MaxBodyBytes", Status.Parser.ParseFrom(await response.Content.ReadAsByteArrayAsync()).Message, StringComparison.Ordinal);
        }

        // 13 MB of zeros is a few kilobytes of gzip: the inflated limit must stop it.
        using (var response = await client.PostAsync("/v1/logs", Protobuf(Zeros(13 * 1024 * 1024), gzip: true)))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
            Assert.Contains("Grace:Otlp:MaxDecompressedBytes", Status.Parser.ParseFrom(await response.Content.ReadAsByteArrayAsync()).Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Keys_work_as_a_bearer_token_or_in_the_configured_header_and_nothing_passes_without_one()
    {
        using var anonymous = _host.CreateClient();
        using (var response = await anonymous.PostAsync("/v1/logs", Protobuf(Request("keys"))))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            var status = Status.Parser.ParseFrom(await response.Content.ReadAsByteArrayAsync());
            Assert.Equal(16, status.Code);
            Assert.Contains("API key", status.Message, StringComparison.Ordinal);
        }

        using var header = _host.CreateClient();
        header.DefaultRequestHeaders.Add("X-Grace-Key", _key);
        using (var response = await header.PostAsync("/v1/logs", Protobuf(Request("keys", new LogRecord { SeverityNumber = SeverityNumber.Error, Body = new AnyValue { StringValue = "via header" } }))))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        await _host.WaitForIncidentAsync(i => i.Source == "keys" && i.SampleMessage == "via header");

        using var forged = _host.CreateClient();
        forged.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "grace_deadbeef_notarealsecretatall");
        Assert.Equal(HttpStatusCode.Unauthorized, (await forged.PostAsync("/v1/logs", Protobuf(Request("keys")))).StatusCode);
    }
}

/// <summary>The mapper alone: severity text, templates in the body, what a label is.</summary>
public sealed class OtlpLogMapperTests
{
    [Theory]
    [InlineData("Error", 17)]
    [InlineData("WARNING", 13)]
    [InlineData("fatal", 21)]
    [InlineData("Critical", 21)]
    [InlineData("INFO2", 9)]
    [InlineData("", 0)]
    [InlineData("whatever", 0)]
    public void Severity_text_stands_in_when_the_number_is_unset(string text, int expected) =>
        Assert.Equal(expected, OtlpLogMapper.SeverityOf(new LogRecord { SeverityText = text }));

    [Fact]
    public void A_body_with_holes_the_attributes_fill_is_a_template()
    {
        var attributes = new List<KeyValue>
        {
            new() { Key = "OrderId", Value = new AnyValue { IntValue = 42 } },
            new() { Key = "Elapsed", Value = new AnyValue { DoubleValue = 1.5 } },
        };
        Assert.Equal("order 42 took 1.5 ms {unknown} {x}", OtlpLogMapper.FillTemplate("order {@OrderId} took {Elapsed:0.0} ms {unknown} {{x}}", attributes));
        Assert.Equal("value }} kept } 42", OtlpLogMapper.FillTemplate("value {Raw} kept }} {OrderId}", [.. attributes, new KeyValue { Key = "Raw", Value = new AnyValue { StringValue = "}}" } }]));
        Assert.Null(OtlpLogMapper.FillTemplate("a JSON body {\"a\":1}", attributes));
        Assert.Null(OtlpLogMapper.FillTemplate("no holes", attributes));
    }

    [Theory]
    [InlineData("InvalidOperationException", "System.InvalidOperationException: boom\n   at X.Y()", "System.InvalidOperationException")]
    [InlineData("InvalidOperationException", "Other.InvalidOperationException2: boom", "InvalidOperationException")]
    [InlineData("KeyError", "Traceback (most recent call last):\n  File x", "KeyError")]
    [InlineData("java.io.IOException", "java.io.IOException: x", "java.io.IOException")]
    [InlineData("TimeoutException", null, "TimeoutException")]
    public void The_short_exception_type_of_the_dotnet_SDK_is_qualified_from_its_stack_trace(string type, string? stackTrace, string expected) =>
        Assert.Equal(expected, OtlpLogMapper.QualifiedType(type, stackTrace));

    [Fact]
    public void Info_records_are_ignored_and_errors_keep_the_scope_and_resource_as_labels()
    {
        var request = new ExportLogsServiceRequest
        {
            ResourceLogs =
            {
                new ResourceLogs
                {
                    Resource = new Resource { Attributes = { new KeyValue { Key = "service.name", Value = new AnyValue { StringValue = "api" } }, new KeyValue { Key = "service.namespace", Value = new AnyValue { StringValue = "shop" } } } },
                    ScopeLogs =
                    {
                        new ScopeLogs
                        {
                            Scope = new InstrumentationScope { Name = "Api.Controllers" },
                            LogRecords =
                            {
                                new LogRecord { SeverityNumber = SeverityNumber.Info, Body = new AnyValue { StringValue = "fine" } },
                                new LogRecord { SeverityNumber = SeverityNumber.Fatal, Body = new AnyValue { StringValue = "down" }, EventName = "Shutdown", TimeUnixNano = 1_767_225_600_000_000_000UL },
                            },
                        },
                    },
                },
            },
        };
        var batch = OtlpLogMapper.Map(request, new OtlpOptions(), "key:t", DateTimeOffset.UnixEpoch);
        Assert.Equal(1, batch.Ignored);
        var signal = Assert.Single(batch.Signals);
        Assert.Equal("shop/api", signal.Source);
        Assert.Equal(Grace.Data.Entities.Severity.Critical, signal.Severity);
        Assert.Equal("Api.Controllers", signal.Labels!["otel.scope.name"]);
        Assert.Equal("Shutdown", signal.Labels!["event.name"]);
        Assert.Equal(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero), signal.Timestamp);
    }
}

/// <summary>The OpenTelemetry SDK's own warnings and errors (it reports export failures on EventSources, never by throwing).</summary>
internal sealed class ExporterDiagnostics : System.Diagnostics.Tracing.EventListener
{
    private readonly ConcurrentQueue<string> _events = new();

    protected override void OnEventSourceCreated(System.Diagnostics.Tracing.EventSource eventSource)
    {
        if (eventSource.Name.StartsWith("OpenTelemetry", StringComparison.Ordinal))
        {
            EnableEvents(eventSource, System.Diagnostics.Tracing.EventLevel.Warning);
        }
    }

    protected override void OnEventWritten(System.Diagnostics.Tracing.EventWrittenEventArgs eventData)
    {
        if (eventData.EventSource.Name.StartsWith("OpenTelemetry", StringComparison.Ordinal) is false)
        {
            return;
        }

        var payload = eventData.Payload is null ? "" : string.Join(", ", eventData.Payload);
        _events.Enqueue($"{eventData.EventSource.Name} {eventData.Level}: {(eventData.Message is { } m ? string.Format(System.Globalization.CultureInfo.InvariantCulture, m, eventData.Payload?.ToArray() ?? []) : payload)}");
    }

    public override string ToString() => string.Join("\n", _events.TakeLast(30));
}

/// <summary>
/// On the in-memory test server: the ingestion rate limit applies to OTLP as to /api/signals, answered
/// as OTLP/HTTP asks (429, Retry-After, a Status body); the OTLP counts for signed-in people.
/// </summary>
public sealed class OtlpRateLimitTests : IAsyncLifetime
{
    private readonly TempFolder _folder = new();
    private TestDatabase _database = null!;
    private GraceHost _host = null!;

    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite, _folder);
        _host = new GraceHost(TestCatalog.Settings(_folder).Concat(_database.Settings()).Concat(new Dictionary<string, string?>
        {
            ["Grace:Ingestion:RequestsPerSecondPerKey"] = "1",
            ["Grace:Ingestion:BurstPerKey"] = "2",
        })).Start();
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await _database.DisposeAsync();
        _folder.Dispose();
    }

    [Fact]
    public async Task A_key_over_its_rate_gets_429_with_retry_after_and_a_status_body()
    {
        using var client = _host.IngestClient();
        var answers = new List<HttpResponseMessage>();
        for (var i = 0; i < 5; i++)
        {
            answers.Add(await client.PostAsync("/v1/logs", new StringContent("{}", Encoding.UTF8, "application/json")));
        }

        var limited = answers.First(r => r.StatusCode == HttpStatusCode.TooManyRequests);
        Assert.True(limited.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), "429 carries Retry-After, which OTLP exporters honour");
        var status = JsonDocument.Parse(await limited.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(8, status.GetProperty("code").GetInt32());
        Assert.Contains("RequestsPerSecondPerKey", status.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.True(answers.Count(r => r.StatusCode == HttpStatusCode.OK) >= 2);
    }

    [Fact]
    public async Task Signed_in_people_see_what_came_in_over_OTLP_including_what_was_below_the_threshold()
    {
        using var client = _host.IngestClient();
        var body = OtlpIngestionTests.Request("counted",
            new LogRecord { SeverityNumber = SeverityNumber.Info, Body = new AnyValue { StringValue = "fine" } },
            new LogRecord { SeverityNumber = SeverityNumber.Debug, Body = new AnyValue { StringValue = "detail" } },
            new LogRecord { SeverityNumber = SeverityNumber.Error, Body = new AnyValue { StringValue = "broken" } });
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/v1/logs", OtlpIngestionTests.Protobuf(body))).StatusCode);

        // An ingestion key sends; it does not read.
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/otlp/stats")).StatusCode);
        await _host.CreateUserAsync("vera", "Viewer-Password-1", GraceRoles.Viewer);
        using var viewer = _host.ClientWithCookie(await _host.SignInAsync("vera", "Viewer-Password-1"));
        var stats = JsonDocument.Parse(await viewer.GetStringAsync("/api/otlp/stats")).RootElement;
        Assert.True(stats.GetProperty("requests").GetInt64() >= 1);
        Assert.True(stats.GetProperty("ignored").GetInt64() >= 2);
        Assert.True(stats.GetProperty("signals").GetInt64() >= 1);
    }
}
