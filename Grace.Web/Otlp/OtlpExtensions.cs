using System.Text.Json;
using Google.Protobuf;
using Grace.Web.Otlp.Proto.Rpc;

namespace Grace.Web.Otlp;

public static class OtlpExtensions
{
    /// <summary>OTLP/HTTP log ingestion: its options, counters, and the error bodies the OTLP specification asks for.</summary>
    public static IServiceCollection AddGraceOtlp(this IServiceCollection services)
    {
        services.AddOptions<OtlpOptions>().BindConfiguration(OtlpOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<OtlpCounters>();
        services.AddTransient<IStartupFilter, OtlpStatusStartupFilter>();
        return services;
    }
}

/// <summary>Puts <see cref="OtlpStatusBodies"/> first in the pipeline, around authentication and rate limiting, for OTLP's <c>/v1</c> paths only.</summary>
internal sealed class OtlpStatusStartupFilter : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.UseWhen(c => c.Request.Path.StartsWithSegments("/v1"), branch => branch.Use(OtlpStatusBodies.InvokeAsync));
        next(app);
    };
}

/// <summary>
/// OTLP/HTTP wants every 4xx and 5xx body to be a <c>google.rpc.Status</c> in the request's
/// encoding. Grace's shared parts (the API-key challenge, the rate limiter, the store's 503)
/// answer with problem details; for OTLP requests this turns their title and detail into a Status
/// message, keeping the status code and headers (Retry-After included). A database outage
/// meets the same 503 with Retry-After that <c>/api</c> gives.
/// </summary>
internal static class OtlpStatusBodies
{
    public static async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var original = context.Response.Body;
        using var buffer = new MemoryStream();
        context.Response.Body = buffer;
        try
        {
            await next(context);
        }
        catch (Exception ex) when (Grace.Data.DatabaseErrors.IsUnavailable(ex) && !context.Response.HasStarted)
        {
            context.RequestServices.GetRequiredService<ILogger<OtlpCounters>>()
                .LogWarning("{Method} {Path} answered 503: Grace's database is unavailable ({Error})", context.Request.Method, context.Request.Path, ex.GetBaseException().Message);
            context.Response.Clear();
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            context.Response.Headers.RetryAfter = "5";
            buffer.SetLength(0);
        }
        finally
        {
            context.Response.Body = original;
        }

        if (context.Response.StatusCode < 400)
        {
            buffer.Position = 0;
            await buffer.CopyToAsync(original, context.RequestAborted);
            return;
        }

        var message = MessageOf(context.Response, buffer);
        var status = new Status { Code = GrpcCodeOf(context.Response.StatusCode), Message = message };
        var json = OtlpLogsEndpoint.EncodingOf(context.Request) == OtlpEncoding.Json
            || (context.Request.ContentType?.Contains("json", StringComparison.OrdinalIgnoreCase) ?? false);
        var bytes = json ? System.Text.Encoding.UTF8.GetBytes(OtlpJson.Format(status)) : status.ToByteArray();
        context.Response.ContentType = json ? OtlpLogsEndpoint.JsonType : OtlpLogsEndpoint.ProtobufType;
        context.Response.ContentLength = bytes.Length;
        await original.WriteAsync(bytes, context.RequestAborted);
    }

    /// <summary>The problem's title and detail when the answer was a problem; else what the status code means.</summary>
    private static string MessageOf(HttpResponse response, MemoryStream buffer)
    {
        if (response.ContentType?.StartsWith("application/problem+json", StringComparison.OrdinalIgnoreCase) == true && buffer.Length > 0)
        {
            try
            {
                using var problem = JsonDocument.Parse(buffer.ToArray());
                var root = problem.RootElement;
                var title = root.TryGetProperty("title", out var t) ? t.GetString() : null;
                var detail = root.TryGetProperty("detail", out var d) ? d.GetString() : null;
                if (root.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Object)
                {
                    detail = string.Join(" ", errors.EnumerateObject().Select(e => $"{e.Name}: {string.Join(" ", e.Value.EnumerateArray().Select(v => v.GetString()))}"));
                }

                return string.Join(" ", new[] { title, detail }.Where(s => !string.IsNullOrWhiteSpace(s)));
            }
            catch (JsonException)
            {
            }
        }

        return response.StatusCode switch
        {
            StatusCodes.Status401Unauthorized => "An API key is required: send 'Authorization: Bearer <key>'.",
            StatusCodes.Status403Forbidden => "This API key is revoked, or this account may not send signals.",
            StatusCodes.Status404NotFound => "Grace takes OTLP logs only, at /v1/logs: point trace and metric exporters elsewhere, or turn them off.",
            StatusCodes.Status405MethodNotAllowed => "Export logs with POST /v1/logs.",
            StatusCodes.Status503ServiceUnavailable => "Grace's database is unavailable. Nothing was stored; retry after a few seconds.",
            _ => $"The request failed with HTTP {response.StatusCode}.",
        };
    }

    // google.rpc.Code: OTLP clients do not act on it (the HTTP status decides a retry), it helps whoever reads the log.
    private static int GrpcCodeOf(int httpStatus) => httpStatus switch
    {
        StatusCodes.Status401Unauthorized => 16, // UNAUTHENTICATED
        StatusCodes.Status403Forbidden => 7, // PERMISSION_DENIED
        StatusCodes.Status404NotFound or StatusCodes.Status405MethodNotAllowed => 12, // UNIMPLEMENTED
        StatusCodes.Status413PayloadTooLarge or StatusCodes.Status429TooManyRequests => 8, // RESOURCE_EXHAUSTED
        StatusCodes.Status503ServiceUnavailable => 14, // UNAVAILABLE
        >= 500 => 13, // INTERNAL
        _ => 3, // INVALID_ARGUMENT
    };
}
