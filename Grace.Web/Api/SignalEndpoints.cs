using System.Text.Json;
using Grace.Data.Entities;
using Grace.Engine.Capture;

namespace Grace.Web.Api;

/// <summary><c>POST /api/signals</c>: one signal as an object, or a batch as an array.</summary>
public static class SignalEndpoints
{
    public const int MaxBatch = 10_000;
    private const int MaxMessage = 8192;
    private const int MaxShort = ColumnLimits.Source;

    public static IEndpointRouteBuilder MapSignalEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/signals", PostSignals)
            .WithName("PostSignals")
            // No Accepts<T>("application/json") here: routing would answer another content type from an
            // endpoint without this one's policy (cookie-only), so a valid key got 401 instead of the 415 it needs.
            .Produces<SignalsAccepted>(StatusCodes.Status202Accepted)
            .ProducesValidationProblem()
            .DisableAntiforgery()
            .RequireIngestScope(ApiKeyScopes.Signals)
            .RequireIngestionRateLimit();
        return app;
    }

    /// <summary>What one signal looks like on the wire.</summary>
    public sealed record SignalRequest(string Source, string Message, string? Severity, DateTimeOffset? Timestamp, string? MessageTemplate,
        string? ExceptionType, string? Target, Dictionary<string, string>? Labels);

    public sealed record SignalsAccepted(int Accepted, int Dropped);

    internal static async Task<IResult> PostSignals(HttpRequest request, SignalIntake intake, TimeProvider time,
        Microsoft.Extensions.Options.IOptionsMonitor<IngestionOptions> limits, CancellationToken cancellationToken)
    {
        var (document, problem) = await IngestionExtensions.ReadJsonAsync(request, limits.CurrentValue.MaxBodyBytes, "The request body could not be read.", cancellationToken);
        if (document is null)
        {
            return problem!;
        }

        using (document)
        {
            var root = document.RootElement;
            var items = root.ValueKind switch
            {
                JsonValueKind.Object => [(Path: "", Element: root)],
                JsonValueKind.Array => root.EnumerateArray().Select((e, i) => (Path: $"[{i}].", Element: e)).ToList(),
                _ => null,
            };
            if (items is null)
            {
                return Results.ValidationProblem(new Dictionary<string, string[]> { ["body"] = ["The body must be a signal object or an array of signals."] });
            }

            if (items.Count == 0 || items.Count > MaxBatch)
            {
                return Results.ValidationProblem(new Dictionary<string, string[]> { ["body"] = [$"A batch holds 1 to {MaxBatch} signals; this one has {items.Count}."] });
            }

            // Everything is validated before anything is queued: a batch is taken whole or not at all.
            var errors = new Dictionary<string, string[]>();
            var signals = new List<(string Path, Signal Signal)>(items.Count);
            var reporter = request.HttpContext.User.Identity?.Name ?? "api";
            foreach (var (path, element) in items)
            {
                if (Parse(path, element, time, reporter, errors) is { } signal)
                {
                    signals.Add((path, signal));
                }
            }

            if (errors.Count > 0)
            {
                return Results.ValidationProblem(errors, title: "One or more signals are invalid; none were accepted.");
            }

            if (IngestionGuard.Check(request.HttpContext, signals) is { } refused)
            {
                return refused;
            }

            return await IngestionExtensions.StoreAsync(intake, signals.ConvertAll(s => s.Signal), limits.CurrentValue, "signals", cancellationToken);
        }
    }

    private static Signal? Parse(string path, JsonElement element, TimeProvider time, string reporter, Dictionary<string, string[]> errors)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            errors[path.TrimEnd('.') is { Length: > 0 } p ? p : "body"] = ["A signal must be a JSON object."];
            return null;
        }

        var before = errors.Count;
        var source = RequiredString(path, element, "source", MaxShort, errors);
        var message = RequiredString(path, element, "message", MaxMessage, errors);
        var template = OptionalString(path, element, "messageTemplate", MaxMessage, errors);
        var exceptionType = OptionalString(path, element, "exceptionType", MaxShort, errors);
        var target = OptionalString(path, element, "target", ColumnLimits.Key, errors);
        var severity = Severity.Error;
        if (OptionalString(path, element, "severity", 32, errors) is { } s && (!Enum.TryParse(s, ignoreCase: true, out severity) || !Enum.IsDefined(severity) || int.TryParse(s, out _)))
        {
            errors[$"{path}severity"] = [$"'{s}' is not a severity; use one of {string.Join(", ", Enum.GetNames<Severity>())}."];
        }

        var timestamp = time.GetUtcNow();
        if (element.TryGetProperty("timestamp", out var ts) && ts.ValueKind != JsonValueKind.Null)
        {
            if (ts.ValueKind != JsonValueKind.String || !ts.TryGetDateTimeOffset(out timestamp))
            {
                errors[$"{path}timestamp"] = ["The timestamp must be an ISO 8601 date and time, such as 2026-11-24T03:00:00Z."];
            }
        }

        Dictionary<string, string>? labels = null;
        if (element.TryGetProperty("labels", out var l) && l.ValueKind != JsonValueKind.Null)
        {
            if (l.ValueKind != JsonValueKind.Object)
            {
                errors[$"{path}labels"] = ["Labels must be an object of string values."];
            }
            else
            {
                labels = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                foreach (var label in l.EnumerateObject())
                {
                    if (label.Value.ValueKind != JsonValueKind.String || label.Name.Length > 128 || label.Value.GetString()!.Length > 1024)
                    {
                        errors[$"{path}labels.{label.Name}"] = ["A label is a name of up to 128 characters with a string value of up to 1024."];
                    }
                    else
                    {
                        labels[label.Name] = label.Value.GetString()!;
                    }
                }

                if (labels.Count > 64)
                {
                    errors[$"{path}labels"] = ["At most 64 labels."];
                }
            }
        }

        return errors.Count > before ? null : new Signal(source!, message!, severity, timestamp, template, exceptionType, target, labels, reporter);
    }

    private static string? RequiredString(string path, JsonElement element, string name, int max, Dictionary<string, string[]> errors)
    {
        var value = OptionalString(path, element, name, max, errors);
        if (value is null && !errors.ContainsKey(path + name))
        {
            errors[path + name] = [$"'{name}' is required."];
        }

        return value;
    }

    private static string? OptionalString(string path, JsonElement element, string name, int max, Dictionary<string, string[]> errors)
    {
        if (!element.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            errors[path + name] = [$"'{name}' must be a string."];
            return null;
        }

        var text = value.GetString()!;
        if (string.IsNullOrWhiteSpace(text))
        {
            errors[path + name] = [$"'{name}' must not be empty."];
            return null;
        }

        if (text.Length > max)
        {
            errors[path + name] = [$"'{name}' is longer than {max} characters."];
            return null;
        }

        return text;
    }
}
