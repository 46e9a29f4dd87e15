using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace Grace.Web.Api;

public static class IngestionExtensions
{
    /// <summary>API-key authentication, a policy per key scope (<see cref="IngestionGuard"/>) and a token bucket per key.</summary>
    public static IServiceCollection AddGraceIngestion(this IServiceCollection services)
    {
        services.AddOptions<IngestionOptions>().BindConfiguration(IngestionOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<WebhooksOptions>().BindConfiguration(WebhooksOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<WebhooksOptions>, WebhooksOptionsValidator>();
        services.AddAuthentication().AddScheme<Microsoft.AspNetCore.Authentication.AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        services.AddAuthorizationBuilder().AddIngestionPolicies();
        services.AddSingleton<IngestionRateLimiter>();
        return services;
    }

    /// <summary>
    /// Reads and parses a JSON request body up to the configured limit. Anything but JSON gets 415
    /// (a plain HTML form cannot post here across sites), a larger body 413, and a body that is not
    /// JSON a 400 naming <c>body</c> with the given title.
    /// </summary>
    /// <summary>
    /// Queues validated signals and answers once they are stored (group commit: concurrent requests
    /// share one transaction), so 202 means a crash can no longer lose them. A full intake, or a
    /// store that does not finish in time (the database away), answers 503 with Retry-After.
    /// </summary>
    public static async Task<IResult> StoreAsync(Grace.Engine.Capture.SignalIntake intake, List<Grace.Engine.Capture.Signal> signals, IngestionOptions limits, string noun, CancellationToken cancellationToken)
    {
        var (accepted, receipt) = intake.TryWriteAndConfirm(signals);
        var dropped = signals.Count - accepted;
        if (accepted == 0)
        {
            return Unavailable(1, "Grace's intake is full.", $"All {dropped} {noun} were dropped and counted; retry shortly.");
        }

        try
        {
            await receipt.Stored.WaitAsync(TimeSpan.FromSeconds(limits.StoreTimeoutSeconds), cancellationToken);
        }
        catch (TimeoutException)
        {
            return Unavailable(5, "Grace could not store the signals in time.",
                $"{accepted} {noun} are queued but were not stored within {limits.StoreTimeoutSeconds:G} s (is Grace's database reachable?). "
                + "They will be stored when it answers; a retry may count them twice, and never loses them.");
        }
        catch (InvalidOperationException ex)
        {
            return Unavailable(5, "Grace is stopping.", ex.Message);
        }

        return Results.Accepted(value: new SignalEndpoints.SignalsAccepted(accepted, dropped));
    }

    /// <summary>A 503 problem with a Retry-After header, for a moment when Grace cannot take or confirm work.</summary>
    public static IResult Unavailable(int retryAfterSeconds, string title, string detail) => new RetryAfterResult(retryAfterSeconds,
        Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: title, detail: detail));

    private sealed class RetryAfterResult(int seconds, IResult inner) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return inner.ExecuteAsync(httpContext);
        }
    }

    public static async Task<(System.Text.Json.JsonDocument? Document, IResult? Problem)> ReadJsonAsync(HttpRequest request, int maxBytes, string invalidTitle, CancellationToken cancellationToken)
    {
        var (body, problem) = await ReadLimitedBodyAsync(request, maxBytes, cancellationToken);
        if (problem is not null)
        {
            return (null, problem);
        }

        System.Text.Json.JsonDocument document;
        try
        {
            document = System.Text.Json.JsonDocument.Parse(body);
        }
        catch (System.Text.Json.JsonException ex)
        {
            return (null, Results.ValidationProblem(new Dictionary<string, string[]> { ["body"] = [$"The body is not valid JSON: {ex.Message}"] }, title: invalidTitle));
        }

        if (JsonText.FindInvalid(document.RootElement) is { } invalid)
        {
            document.Dispose();
            return (null, Results.ValidationProblem(new Dictionary<string, string[]> { [invalid.Field] = [invalid.Message] }, title: invalidTitle));
        }

        return (document, null);
    }

    /// <summary>
    /// Reads a small JSON body into <typeparamref name="T"/> with the API's JSON settings. A field of
    /// the wrong type gets a 400 naming it (and listing the names an enum takes), as the signal API
    /// does, instead of the framework's bare 400 or its exception page. <paramref name="example"/>
    /// shows what to send when the body is empty.
    /// </summary>
    public static async Task<(T? Value, IResult? Problem)> ReadBodyAsync<T>(HttpRequest request, string title, string example, CancellationToken cancellationToken)
        where T : class
    {
        const int MaxBytes = 64 * 1024;
        var (body, problem) = await ReadLimitedBodyAsync(request, MaxBytes, cancellationToken);
        if (problem is not null)
        {
            return (null, problem);
        }

        var options = request.HttpContext.RequestServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions>>().Value.SerializerOptions;
        IResult Empty() => Results.ValidationProblem(new Dictionary<string, string[]> { ["body"] = [$"Send a JSON object, such as {example}."] }, title: title);
        if (body is not { Length: > 0 })
        {
            return (null, Empty());
        }

        // Syntax first, then shape: a broken document is the body's fault, a wrong value a field's.
        System.Text.Json.JsonDocument document;
        try
        {
            document = System.Text.Json.JsonDocument.Parse(body);
        }
        catch (System.Text.Json.JsonException ex)
        {
            return (null, Results.ValidationProblem(new Dictionary<string, string[]> { ["body"] = [$"The body is not valid JSON: {ex.Message}"] }, title: title));
        }

        using (document)
        try
        {
            if (JsonText.FindInvalid(document.RootElement) is { } invalid)
            {
                return (null, Results.ValidationProblem(new Dictionary<string, string[]> { [invalid.Field] = [invalid.Message] }, title: title));
            }

            return System.Text.Json.JsonSerializer.Deserialize<T>(document, options) is { } value ? (value, null) : (null, Empty());
        }
        catch (System.Text.Json.JsonException ex)
        {
            var field = ex.Path is { Length: > 2 } path ? path.TrimStart('$', '.') : "body";
            var property = typeof(T).GetProperties().FirstOrDefault(p => string.Equals(p.Name, field, StringComparison.OrdinalIgnoreCase));
            var type = property is null ? null : Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            var message = type switch
            {
                null => $"The body is not valid JSON: {ex.Message}",
                { IsEnum: true } => $"{field} must be one of {string.Join(", ", Enum.GetNames(type))}.",
                _ when type == typeof(int) || type == typeof(double) => $"{field} must be a number.",
                _ => $"{field} must be a {type.Name.ToLowerInvariant()}.",
            };
            return (null, Results.ValidationProblem(new Dictionary<string, string[]> { [field] = [message] }, title: title));
        }
    }

    private static async Task<(byte[]? Body, IResult? TooLarge)> ReadLimitedBodyAsync(HttpRequest request, int maxBytes, CancellationToken cancellationToken)
    {
        if (!request.HasJsonContentType())
        {
            return (null, Results.Problem(statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Send JSON.",
                detail: "The body must be sent with Content-Type: application/json."));
        }

        IResult Reject() => Results.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "The request body is too large.",
            detail: $"Bodies are limited to {maxBytes} bytes (Grace:Ingestion:MaxBodyBytes); send smaller batches.");
        if (request.ContentLength > maxBytes)
        {
            return (null, Reject());
        }

        try
        {
            // A declared length (what clients send) is read straight into a body of that size; the old
            // way zeroed an 80 KB chunk and grew a stream for every request, most of a small
            // signal's allocations.
            return request.ContentLength is { } declared
                ? (await ReadDeclaredAsync(request.Body, (int)declared, cancellationToken), null)
                : await ReadChunkedAsync(request.Body, maxBytes, Reject, cancellationToken);
        }
        catch (Exception ex) when (ClientErrors.Describe(ex, request.HttpContext) is { } problem)
        {
            // The client's framing (a bad chunk, a body cut short, one sent too slowly) is its mistake, not Grace's.
            ClientErrors.Note(request.HttpContext, ex);
            return (null, problem);
        }
    }

    // Kestrel ends the body at the declared length and fails a body cut short, so exactly that many bytes arrive.
    private static async Task<byte[]> ReadDeclaredAsync(Stream body, int length, CancellationToken cancellationToken)
    {
        var buffer = new byte[length];
        await body.ReadExactlyAsync(buffer, cancellationToken);
        return buffer;
    }

    private static async Task<(byte[]? Body, IResult? TooLarge)> ReadChunkedAsync(Stream body, int maxBytes, Func<IResult> reject, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = System.Buffers.ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            int read;
            while ((read = await body.ReadAsync(chunk, cancellationToken)) > 0)
            {
                if (buffer.Length + read > maxBytes)
                {
                    return (null, reject());
                }

                buffer.Write(chunk, 0, read);
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(chunk);
        }

        return (buffer.ToArray(), null);
    }
}
