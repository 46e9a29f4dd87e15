using System.Globalization;
using System.Text;
using Grace.Data.Entities;
using Grace.Engine.Gate;
using Grace.Engine.Missions;
using Grace.Web.Identity;

namespace Grace.Web.Api;

/// <summary>Downloads for the console (signed-in users only, by the fallback policy).</summary>
public static class ConsoleEndpoints
{
    public static IEndpointRouteBuilder MapConsoleEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/outcomes.csv", async (int? days, ConsoleQueries queries, TimeProvider time, CancellationToken cancellationToken) =>
        {
            var period = Math.Clamp(days ?? 30, 1, 3650);
            var outcomes = await queries.OutcomesAsync(time.GetUtcNow().AddDays(-period), cancellationToken);
            var csv = new StringBuilder("at,mission,pattern,playbook,target,final_state,success,rolled_back,time_to_recover_s,detect_s,decide_s,approve_s,act_s,verify_s,failed_step\n");
            foreach (var o in outcomes)
            {
                csv.Append(CultureInfo.InvariantCulture, $"{o.At:O},{o.MissionId},{Field(o.PatternKey)},{Field(o.PlaybookKey)},{Field(o.Target)},{o.FinalState},")
                   .Append(CultureInfo.InvariantCulture, $"{(o.Success ? "true" : "false")},{(o.RolledBack ? "true" : "false")},{Seconds(o.TimeToRecoverSeconds)},")
                   .Append(CultureInfo.InvariantCulture, $"{Seconds(o.DetectSeconds)},{Seconds(o.DecideSeconds)},{Seconds(o.ApproveSeconds)},{Seconds(o.ActSeconds)},{Seconds(o.VerifySeconds)},{(o.FailedStep is { } step ? Field(step) : "")}\n");
            }

            return Results.File(Encoding.UTF8.GetBytes(csv.ToString()), "text/csv", $"grace-outcomes-{period}d.csv");
        });
        app.MapGet("/api/faults", (Grace.Engine.Faults.FaultInjector faults) => !faults.Enabled
                ? FaultsOff()
                : Results.Ok(faults.Kinds.Select(k => new { k.Kind, k.Title, k.Description, k.TargetKind, k.HasSize, Targets = faults.TargetsFor(k.Kind) })))
            .RequireAuthorization(GracePolicies.Admin);
        app.MapPost("/api/faults", async (HttpRequest request, HttpContext http, Grace.Engine.Faults.FaultInjector faults, CancellationToken ct) =>
        {
            if (!faults.Enabled)
            {
                return FaultsOff();
            }

            const string title = "The fault was not injected.";
            var (body, problem) = await IngestionExtensions.ReadBodyAsync<FaultRequest>(request, title, """{"kind": "SqliteWalGrowth", "target": "demo-orders-db", "megabytes": 8}""", ct);
            if (problem is not null)
            {
                return problem;
            }

            var missing = new Dictionary<string, string[]>();
            var known = string.Join(", ", faults.Kinds.Select(k => k.Kind));
            if (string.IsNullOrWhiteSpace(body!.Kind))
            {
                missing["kind"] = [$"kind is required: one of {known}."];
            }

            if (string.IsNullOrWhiteSpace(body.Target))
            {
                missing["target"] = ["target is required: a key under Grace:Targets (GET /api/faults lists them per fault)."];
            }

            if (!string.IsNullOrWhiteSpace(body.Kind) && !faults.Kinds.Any(k => k.Kind == new Grace.Engine.Faults.FaultKind(body.Kind)))
            {
                missing["kind"] = [$"kind must be one of {known}."];
            }

            if (body.Target is { Length: > 128 })
            {
                missing["target"] = ["target must be at most 128 characters: a key under Grace:Targets."];
            }

            if (missing.Count > 0)
            {
                return Results.ValidationProblem(missing, title: title);
            }

            try
            {
                var result = await faults.InjectAsync(new Grace.Engine.Faults.FaultKind(body.Kind!), body.Target!, body.Megabytes, CurrentActor.FromPrincipal(http.User, http.Connection.RemoteIpAddress?.ToString()), ct);
                return Results.Accepted(value: new { result });
            }
            catch (MissionOperationException ex)
            {
                return Results.Problem(statusCode: ex.Forbidden ? StatusCodes.Status403Forbidden : StatusCodes.Status400BadRequest, title: title, detail: ex.Message);
            }
        }).RequireAuthorization(GracePolicies.Admin);

        // Keys for programs, for an Admin working from a terminal rather than the API keys page. The key is shown once.
        app.MapPost("/api/keys", async (HttpRequest request, Grace.Engine.Capture.ApiKeyService keys, CancellationToken ct) =>
        {
            const string title = "The API key was not created.";
            var (body, problem) = await IngestionExtensions.ReadBodyAsync<KeyRequest>(request, title, """{"name": "alertmanager"}""", ct);
            if (problem is not null)
            {
                return problem;
            }

            if (string.IsNullOrWhiteSpace(body!.Name))
            {
                return Results.ValidationProblem(new Dictionary<string, string[]> { ["name"] = ["name is required: who will use the key (\"alertmanager\", \"orders-api\")."] }, title: title);
            }

            try
            {
                var (row, key) = await keys.CreateAsync(body.Name, CurrentActor.FromPrincipal(request.HttpContext.User, request.HttpContext.Connection.RemoteIpAddress?.ToString()), ct);
                // No location: a key cannot be read back, only listed (and revoked) on the API keys page.
                return Results.Json(new { row.Id, row.Name, key, note = "Shown once: Grace keeps only its hash." }, statusCode: StatusCodes.Status201Created);
            }
            catch (MissionOperationException ex)
            {
                return Results.Problem(statusCode: ex.Forbidden ? StatusCodes.Status403Forbidden : StatusCodes.Status400BadRequest, title: title, detail: ex.Message);
            }
        }).RequireAuthorization(GracePolicies.Admin);

        // Revocation from a terminal (an incident response does not wait for a browser). It holds on
        // every instance at once: each instance's check cache is cleared through the cluster relay.
        app.MapDelete("/api/keys/{id:guid}", async (Guid id, HttpContext context, Grace.Engine.Capture.ApiKeyService keys, CancellationToken ct) =>
        {
            try
            {
                await keys.RevokeAsync(id, CurrentActor.FromPrincipal(context.User, context.Connection.RemoteIpAddress?.ToString()), ct);
                return Results.NoContent();
            }
            catch (MissionOperationException ex)
            {
                return Results.Problem(statusCode: ex.NotFound ? StatusCodes.Status404NotFound : ex.Forbidden ? StatusCodes.Status403Forbidden : StatusCodes.Status400BadRequest,
                    title: "The API key was not revoked.", detail: ex.Message);
            }
        }).RequireAuthorization(GracePolicies.Admin);

        app.MapGet("/api/capture/stats", async (Grace.Engine.Capture.CaptureMonitor monitor, CancellationToken ct) => Results.Ok(await monitor.ReadAsync(ct)));

        // Approve or reject from a script or a chat tool, with the signed-in person's cookie. A role that
        // may not decide gets 403 before its body is read, with the roles that may; the engine's
        // ApprovalService then holds the rest of the rules (never one's own request, two people for tier 3).
        // The body is required JSON: a cross-site HTML form cannot send it, so the cookie alone never decides.
        app.MapPost("/api/missions/{id:guid}/approve", (Guid id, HttpRequest request, ApprovalService approvals, CancellationToken ct) =>
            DecideAsync(id, ApprovalVerdict.Approve, request, approvals, ct));
        app.MapPost("/api/missions/{id:guid}/reject", (Guid id, HttpRequest request, ApprovalService approvals, CancellationToken ct) =>
            DecideAsync(id, ApprovalVerdict.Reject, request, approvals, ct));
        return app;
    }

    /// <summary>A fault to inject: its kind by name (GET /api/faults lists them), the target key, a size where it has one.</summary>
    public sealed record FaultRequest(string? Kind, string? Target, int? Megabytes);

    // Off, the demo's endpoints do not exist as far as callers can tell, with the setting that turns them on.
    private static IResult FaultsOff() =>
        Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Fault injection is off.", detail: "Set Grace:Faults:Enabled to true to use the demo.");

    // As stored with a decision (ApprovalDecision.Reason).
    private const int MaxReasonLength = Grace.Data.Entities.ColumnLimits.ShortText;

    /// <summary>A new API key: who will use it.</summary>
    public sealed record KeyRequest(string? Name);

    /// <summary>The body of an approval decision: a reason (required to reject).</summary>
    public sealed record DecisionRequest(string? Reason);

    private static async Task<IResult> DecideAsync(Guid id, ApprovalVerdict verdict, HttpRequest request, ApprovalService approvals, CancellationToken ct)
    {
        var title = verdict == ApprovalVerdict.Approve ? "The mission was not approved." : "The mission was not rejected.";
        var deciders = Grace.Engine.Missions.RolePermissions.RolesFor(Grace.Engine.Missions.Permission.Approve);
        if (!deciders.Any(request.HttpContext.User.IsInRole))
        {
            return Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: title,
                detail: $"{request.HttpContext.User.Identity?.Name} may not approve or reject: it needs the {string.Join(", ", deciders)} role.");
        }

        var (body, problem) = await IngestionExtensions.ReadBodyAsync<DecisionRequest>(request, title,
            verdict == ApprovalVerdict.Approve ? """{} or {"reason": "checked the blast radius"}""" : """{"reason": "why not"}""", ct);
        if (problem is not null)
        {
            return problem;
        }

        if (body!.Reason is { Length: > MaxReasonLength })
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["reason"] = [$"reason must be at most {MaxReasonLength} characters."] }, title: title);
        }

        // A missing reason is the request's fault, whatever state the mission is in: 400 naming the field.
        if (verdict == ApprovalVerdict.Reject && string.IsNullOrWhiteSpace(body.Reason))
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["reason"] = ["reason is required to reject: say why, for the requester and the audit log."] }, title: title);
        }

        var actor = CurrentActor.FromPrincipal(request.HttpContext.User, request.HttpContext.Connection.RemoteIpAddress?.ToString());
        try
        {
            var status = await approvals.DecideAsync(id, actor, verdict, body.Reason, ct);
            return Results.Ok(new { mission = id, status = status.ToString() });
        }
        catch (MissionOperationException ex) when (ex.Field is { } field && !ex.Forbidden)
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { [field] = [ex.Message] }, title: title);
        }
        catch (MissionOperationException ex)
        {
            var code = ex.Forbidden ? StatusCodes.Status403Forbidden : ex.NotFound ? StatusCodes.Status404NotFound : StatusCodes.Status409Conflict;
            return Results.Problem(statusCode: code, title: ex.Forbidden ? "Not allowed." : title, detail: ex.Message);
        }
    }

    private static string? Seconds(double? value) => value?.ToString("0.###", CultureInfo.InvariantCulture);

    // RFC 4180 quoting, and a leading quote on text a spreadsheet would run as a formula.
    private static string Field(string value)
    {
        if (value.Length > 0 && "=+-@".Contains(value[0], StringComparison.Ordinal))
        {
            value = "'" + value;
        }

        return value.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? $"\"{value.Replace("\"", "\"\"", StringComparison.Ordinal)}\"" : value;
    }
}
