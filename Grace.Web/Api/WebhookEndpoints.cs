using System.Globalization;
using System.Text.Json;
using Grace.Data.Entities;
using Grace.Engine.Capture;
using Microsoft.Extensions.Options;

namespace Grace.Web.Api;

/// <summary>
/// <c>POST /api/webhooks/{name}</c>: any tool's JSON, turned into signals by the mapping an Admin
/// configured under <c>Grace:Webhooks:{name}</c> (<see cref="WebhookMapping"/>).
/// </summary>
public static class WebhookEndpoints
{
    private const int MaxMessage = 8192;
    private const int MaxShort = ColumnLimits.Source;
    private const int MaxLabelValue = 1024;

    public static IEndpointRouteBuilder MapWebhookEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/webhooks/{name}", PostAsync)
            .WithName("PostWebhook")
            .DisableAntiforgery()
            .RequireIngestScope(ApiKeyScopes.Webhooks)
            .RequireIngestionRateLimit();
        return app;
    }

    internal static async Task<IResult> PostAsync(string name, HttpRequest request, SignalIntake intake, TimeProvider time,
        IOptionsMonitor<IngestionOptions> limits, IOptionsMonitor<WebhooksOptions> webhooks, CancellationToken cancellationToken)
    {
        if (!webhooks.CurrentValue.TryGetValue(name, out var mapping))
        {
            return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such webhook.",
                detail: $"No webhook '{name}' is configured; an Admin declares one under {WebhooksOptions.Section}:{name}.");
        }

        if (mapping.ApiKeys.Count > 0 && request.HttpContext.Items[typeof(ApiKeyGrant)] is ApiKeyGrant grant
            && !mapping.ApiKeys.Contains(grant.Name, StringComparer.OrdinalIgnoreCase))
        {
            return Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "This API key may not use this webhook.",
                detail: $"{WebhooksOptions.Section}:{name}:ApiKeys names the keys that may post here; '{grant.Name}' is not one of them.");
        }

        var title = $"The payload for webhook '{name}' could not be read.";
        var (document, problem) = await IngestionExtensions.ReadJsonAsync(request, limits.CurrentValue.MaxBodyBytes, title, cancellationToken);
        if (document is null)
        {
            return problem!;
        }

        using (document)
        {
            var root = document.RootElement;
            List<(string Path, JsonElement Item)> items;
            if (mapping.Items is { Length: > 0 } itemsPath)
            {
                if (JsonPathLite.Parse(itemsPath).Path!.Find(root) is not { ValueKind: JsonValueKind.Array } array)
                {
                    return Results.ValidationProblem(new Dictionary<string, string[]> { [itemsPath.TrimStart('$', '.')] = [$"The mapping reads alerts from {itemsPath}, which is not an array in this body."] }, title: title);
                }

                items = array.EnumerateArray().Select((e, i) => ($"{itemsPath.TrimStart('$', '.')}[{i}].", e)).ToList();
            }
            else
            {
                items = root.ValueKind == JsonValueKind.Array
                    ? root.EnumerateArray().Select((e, i) => ($"[{i}].", e)).ToList()
                    : [("", root)];
            }

            if (items.Count is 0 or > SignalEndpoints.MaxBatch)
            {
                return Results.ValidationProblem(new Dictionary<string, string[]> { ["body"] = [$"A webhook call holds 1 to {SignalEndpoints.MaxBatch} alerts; this one has {items.Count}."] }, title: title);
            }

            var errors = new Dictionary<string, string[]>();
            var signals = new List<(string Path, Signal Signal)>();
            var reporter = request.HttpContext.User.Identity?.Name ?? $"webhook:{name}";
            foreach (var (path, item) in items)
            {
                if (Map(name, mapping, path, item, reporter, time, errors) is { } signal)
                {
                    signals.Add((path, signal));
                }
            }

            if (errors.Count > 0)
            {
                return Results.ValidationProblem(errors, title: "One or more alerts do not fit the webhook's mapping; none were accepted.");
            }

            if (IngestionGuard.Check(request.HttpContext, signals) is { } refused)
            {
                return refused;
            }

            return await IngestionExtensions.StoreAsync(intake, signals.ConvertAll(s => s.Signal), limits.CurrentValue, "alerts", cancellationToken);
        }
    }

    private static Signal? Map(string name, WebhookMapping mapping, string path, JsonElement item, string reporter, TimeProvider time, Dictionary<string, string[]> errors)
    {
        var before = errors.Count;
        var source = Required(mapping.Source, "source", MaxShort, path, item, errors);
        var message = Read(mapping.Message, item) is { } m && !string.IsNullOrWhiteSpace(m) ? (m.Length > MaxMessage ? m[..MaxMessage] : m) : null;
        if (message is null)
        {
            errors[path + "message"] = [$"The mapping's Message ({mapping.Message}) found no text in this alert."];
        }

        var target = Read(mapping.Target, item);
        if (target is { Length: > ColumnLimits.Key })
        {
            errors[path + "target"] = [$"The target ({mapping.Target}) must name a configured target: at most {ColumnLimits.Key} characters."];
        }

        var severity = mapping.DefaultSeverity;
        if (Read(mapping.Severity, item) is { } raw && mapping.SeverityMap.TryGetValue(raw, out var mapped))
        {
            severity = mapped;
        }

        var timestamp = time.GetUtcNow();
        if (Read(mapping.Timestamp, item) is { } when)
        {
            if (DateTimeOffset.TryParse(when, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed))
            {
                timestamp = parsed;
            }
            else if (long.TryParse(when, NumberStyles.Integer, CultureInfo.InvariantCulture, out var unix) && unix is > 0 and < 253_402_300_800)
            {
                timestamp = DateTimeOffset.FromUnixTimeSeconds(unix);
            }
            else
            {
                errors[path + "timestamp"] = [$"The timestamp ({mapping.Timestamp}) found '{Clip(when)}': use ISO 8601 or Unix seconds."];
            }
        }

        var labels = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["webhook"] = name };
        foreach (var (label, spec) in mapping.Labels)
        {
            if (Read(spec, item) is { } value)
            {
                labels[label] = value.Length > MaxLabelValue ? value[..MaxLabelValue] : value;
            }
        }

        var fingerprint = Read(mapping.Fingerprint, item);
        var resolved = Read(mapping.Resolved, item) is { } state && mapping.ResolvedValues.Contains(state, StringComparer.OrdinalIgnoreCase);
        if (errors.Count > before)
        {
            return null;
        }

        // As for Alertmanager: the fingerprint becomes the template, so firing and resolved notices of one problem meet in one incident.
        var template = fingerprint is { Length: > 0 } ? $"Webhook {name} [{Clip(fingerprint)}]" : null;
        return new Signal(source!, message!, severity, timestamp, MessageTemplate: template, Target: target, Labels: labels, ReportedBy: reporter, Resolved: resolved);
    }

    private static string? Required(string spec, string field, int max, string path, JsonElement item, Dictionary<string, string[]> errors)
    {
        var value = Read(spec, item);
        if (string.IsNullOrWhiteSpace(value))
        {
            errors[path + field] = [$"The mapping's {char.ToUpperInvariant(field[0])}{field[1..]} ({spec}) found no text in this alert."];
            return null;
        }

        if (value.Length > max)
        {
            errors[path + field] = [$"The {field} ({spec}) is longer than {max} characters."];
            return null;
        }

        return value;
    }

    /// <summary>A mapping value's text: a fixed text as is, a path's string, number or boolean as text; null when the path finds nothing.</summary>
    private static string? Read(string? spec, JsonElement item)
    {
        if (string.IsNullOrEmpty(spec))
        {
            return null;
        }

        if (!JsonPathLite.IsPath(spec))
        {
            return spec;
        }

        return JsonPathLite.Parse(spec).Path?.Find(item) switch
        {
            { ValueKind: JsonValueKind.String } e => e.GetString(),
            { ValueKind: JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False } e => e.GetRawText(),
            { ValueKind: JsonValueKind.Object or JsonValueKind.Array } e => Clip(e.GetRawText(), MaxMessage),
            _ => null,
        };
    }

    private static string Clip(string text, int max = 128) => text.Length > max ? text[..max] : text;
}
