using System.Text.Json;
using Grace.Data.Entities;
using Grace.Engine.Capture;
using Microsoft.Extensions.Options;

namespace Grace.Web.Api;

/// <summary>Which tool sent an alert webhook: both send Alertmanager's shape, Grafana with more fields.</summary>
public enum AlertFormat
{
    /// <summary>Prometheus Alertmanager, webhook version 4.</summary>
    Alertmanager,
    /// <summary>Grafana-managed alerting's webhook contact point, version 1: adds <c>values</c>, <c>silenceURL</c>, <c>dashboardURL</c>, <c>panelURL</c>, <c>orgId</c>, <c>state</c>.</summary>
    Grafana,
}

/// <summary>
/// <c>POST /api/alertmanager</c> (Prometheus Alertmanager's webhook, version 4) and
/// <c>POST /api/grafana</c> (Grafana alerting's webhook contact point, version 1), as those tools
/// send them. A firing alert is a signal; a resolved one resolves its incident. The fingerprint is
/// the alert's name plus the sender's own fingerprint of its labels, so firing and resolved
/// notices of one alert meet in one incident.
/// </summary>
public static class AlertmanagerEndpoints
{
    public static IEndpointRouteBuilder MapAlertmanagerEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/alertmanager", (HttpRequest request, SignalIntake intake, TimeProvider time, IOptionsMonitor<IngestionOptions> limits, CancellationToken ct) =>
                PostAsync(AlertFormat.Alertmanager, request, intake, time, limits, ct))
            .WithName("PostAlertmanager")
            .DisableAntiforgery()
            .RequireIngestScope(ApiKeyScopes.Alerts)
            .RequireIngestionRateLimit();
        app.MapPost("/api/grafana", (HttpRequest request, SignalIntake intake, TimeProvider time, IOptionsMonitor<IngestionOptions> limits, CancellationToken ct) =>
                PostAsync(AlertFormat.Grafana, request, intake, time, limits, ct))
            .WithName("PostGrafana")
            .DisableAntiforgery()
            .RequireIngestScope(ApiKeyScopes.Alerts)
            .RequireIngestionRateLimit();
        return app;
    }

    internal static async Task<IResult> PostAsync(AlertFormat format, HttpRequest request, SignalIntake intake, TimeProvider time, IOptionsMonitor<IngestionOptions> limits, CancellationToken cancellationToken)
    {
        var title = $"The {format} payload could not be read.";
        var (document, problem) = await IngestionExtensions.ReadJsonAsync(request, limits.CurrentValue.MaxBodyBytes, title, cancellationToken);
        if (document is null)
        {
            return problem!;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return Invalid(title, "body", $"The body must be a {format} webhook object.");
            }

            if (!root.TryGetProperty("alerts", out var alerts) || alerts.ValueKind != JsonValueKind.Array || alerts.GetArrayLength() == 0)
            {
                return Invalid(title, "alerts", "'alerts' must be a non-empty array.");
            }

            // Alertmanager sends "4", Grafana "1"; both shapes parse alike, so each endpoint takes either.
            if (root.TryGetProperty("version", out var version) && version.ValueKind == JsonValueKind.String && version.GetString() is not ("4" or "1"))
            {
                return Invalid(title, "version", $"Webhook version '{version.GetString()}' is not supported; Alertmanager sends version 4, Grafana version 1.");
            }

            var receiver = root.TryGetProperty("receiver", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null;
            var fallbackSource = format == AlertFormat.Grafana ? "grafana" : "alertmanager";
            var errors = new Dictionary<string, string[]>();
            var signals = new List<(string Path, Signal Signal)>();
            var index = 0;
            foreach (var alert in alerts.EnumerateArray())
            {
                var path = $"alerts[{index}].";
                if (Parse(path, alert, receiver ?? fallbackSource, request.HttpContext.User.Identity?.Name ?? fallbackSource, time, errors) is { } signal)
                {
                    signals.Add((path, signal));
                }

                index++;
            }

            if (errors.Count > 0)
            {
                return Results.ValidationProblem(errors, title: "One or more alerts are invalid; none were accepted.");
            }

            if (IngestionGuard.Check(request.HttpContext, signals) is { } refused)
            {
                return refused;
            }

            return await IngestionExtensions.StoreAsync(intake, signals.ConvertAll(s => s.Signal), limits.CurrentValue, "alerts", cancellationToken);
        }
    }

    private static Signal? Parse(string path, JsonElement alert, string receiver, string reporter, TimeProvider time, Dictionary<string, string[]> errors)
    {
        if (alert.ValueKind != JsonValueKind.Object)
        {
            errors[path.TrimEnd('.')] = ["An alert must be an object."];
            return null;
        }

        var status = alert.TryGetProperty("status", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null;
        if (status is not ("firing" or "resolved"))
        {
            errors[path + "status"] = ["'status' must be \"firing\" or \"resolved\"."];
        }

        var labels = Strings(alert, "labels", path, errors);
        var annotations = Strings(alert, "annotations", path, errors) ?? [];
        if (labels is not null && labels.TryGetValue("grace_target", out var target) && target.Length > ColumnLimits.Key)
        {
            errors[path + "labels.grace_target"] = ["'grace_target' names a configured target: at most 128 characters."];
        }

        if (labels is not null && !labels.ContainsKey("alertname"))
        {
            errors[path + "labels.alertname"] = ["Every alert needs an 'alertname' label."];
        }

        var startsAt = time.GetUtcNow();
        if (alert.TryGetProperty("startsAt", out var st) && (st.ValueKind != JsonValueKind.String || !st.TryGetDateTimeOffset(out startsAt)))
        {
            errors[path + "startsAt"] = ["'startsAt' must be an RFC 3339 time."];
        }

        if (errors.Keys.Any(k => k.StartsWith(path, StringComparison.Ordinal)) || labels is null)
        {
            return null;
        }

        var alertName = labels["alertname"];
        var fingerprint = alert.TryGetProperty("fingerprint", out var f) && f.ValueKind == JsonValueKind.String
            ? f.GetString()!
            : string.Join(",", labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}"));
        var severity = labels.GetValueOrDefault("severity")?.ToLowerInvariant() switch
        {
            "critical" or "page" => Severity.Critical,
            "warning" or "warn" => Severity.Warning,
            "info" or "none" => Severity.Information,
            _ => Severity.Error,
        };
        var message = annotations.GetValueOrDefault("summary") ?? annotations.GetValueOrDefault("description") ?? alertName;
        var source = labels.GetValueOrDefault("service") ?? labels.GetValueOrDefault("job") ?? receiver;
        // Prometheus labels are case-sensitive ("env" and "Env" may both exist); the first one wins here.
        var allLabels = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in labels)
        {
            allLabels.TryAdd(key, value);
        }

        foreach (var (key, value) in annotations)
        {
            allLabels.TryAdd($"annotation.{key}", value);
        }

        // Grafana's extras: the query values that fired the rule, and links back to it. Kept as labels so
        // patterns can match on them and people see them; absent from Alertmanager's alerts.
        if (alert.TryGetProperty("values", out var values) && values.ValueKind == JsonValueKind.Object)
        {
            foreach (var value in values.EnumerateObject().Take(32))
            {
                allLabels.TryAdd($"value.{value.Name}", value.Value.ValueKind == JsonValueKind.String ? value.Value.GetString()! : value.Value.GetRawText());
            }
        }

        foreach (var link in (string[])["generatorURL", "dashboardURL", "panelURL", "silenceURL", "valueString"])
        {
            if (alert.TryGetProperty(link, out var url) && url.ValueKind == JsonValueKind.String && url.GetString() is { Length: > 0 and <= 2048 } text)
            {
                allLabels.TryAdd(link, text);
            }
        }

        return new Signal(source[..Math.Min(source.Length, ColumnLimits.Source)], message.Length > 8192 ? message[..8192] : message, severity, startsAt,
            MessageTemplate: $"Alert {alertName} [{fingerprint}]", Target: labels.GetValueOrDefault("grace_target"),
            Labels: allLabels, ReportedBy: reporter, Resolved: status == "resolved");
    }

    private static Dictionary<string, string>? Strings(JsonElement alert, string name, string path, Dictionary<string, string[]> errors)
    {
        if (!alert.TryGetProperty(name, out var element) || element.ValueKind == JsonValueKind.Null)
        {
            if (name == "labels")
            {
                errors[path + name] = ["'labels' is required."];
            }

            return null;
        }

        if (element.ValueKind != JsonValueKind.Object)
        {
            errors[path + name] = [$"'{name}' must be an object of strings."];
            return null;
        }

        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var p in element.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.String)
            {
                errors[$"{path}{name}.{p.Name}"] = ["Values must be strings."];
                continue;
            }

            result[p.Name] = p.Value.GetString()!;
        }

        return result;
    }

    private static IResult Invalid(string title, string field, string message) =>
        Results.ValidationProblem(new Dictionary<string, string[]> { [field] = [message] }, title: title);
}
