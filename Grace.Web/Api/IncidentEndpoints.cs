using Grace.Engine.Escalate;
using Grace.Engine.Missions;
using Grace.Web.Identity;

namespace Grace.Web.Api;

/// <summary>
/// People act on incidents from a script or a chat tool, with the signed-in person's cookie: the
/// engine's <see cref="IncidentService"/> decides what is allowed (a Viewer gets 403 here, as in the
/// console). Bodies are required JSON, so a cross-site form cannot act with the cookie alone.
/// </summary>
public static class IncidentEndpoints
{
    public sealed record AssignRequest(string? Assignee);

    public sealed record CommentRequest(string? Text);

    public sealed record ResolveRequest(string? Reason);

    public sealed record RunRequest(string? Playbook, bool DryRun = false);

    public static IEndpointRouteBuilder MapIncidentEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/incidents/{id:guid}", async (Guid id, IncidentService incidents, CancellationToken ct) =>
            await incidents.DetailAsync(id, ct) is { } detail
                ? Results.Ok(new
                {
                    detail.Incident.Id, detail.Incident.Status, detail.Incident.Source, detail.Incident.SampleMessage, detail.Incident.Count,
                    detail.Incident.FirstSeenAt, detail.Incident.OpenedAt, detail.Incident.LastSeenAt, detail.Incident.ResolvedAt,
                    detail.Incident.NeedsHuman, detail.Incident.NeedsHumanReason, detail.Incident.NextPlaybookKey, detail.Incident.RetryAt,
                    detail.Incident.AwaitingRecurrence, detail.Incident.AcknowledgedBy, detail.Incident.AcknowledgedAt, detail.Incident.AssignedTo,
                    detail.PatternKey, detail.Candidates,
                    Timeline = detail.Timeline.Select(e => new { e.At, Kind = e.Kind.ToString(), e.Actor, e.Message, e.MissionId, e.PlaybookKey }),
                    Missions = detail.Missions.Select(m => new { m.Id, m.PlaybookKey, m.Target, m.Tier, State = m.State.ToString(), m.CreatedAt, m.StatusReason, Link = $"/missions/{m.Id}" }),
                })
                : Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such incident.", detail: $"Incident {id} does not exist."));

        app.MapPost("/api/incidents/{id:guid}/acknowledge", (Guid id, HttpRequest request, IncidentService incidents, CancellationToken ct) =>
            ActAsync<AcknowledgeRequest>(request, "The incident was not acknowledged.", "{}", (body, actor) => incidents.AcknowledgeAsync(id, actor, ct), ct));
        app.MapPost("/api/incidents/{id:guid}/assign", (Guid id, HttpRequest request, IncidentService incidents, CancellationToken ct) =>
            ActAsync<AssignRequest>(request, "The incident was not assigned.", """{"assignee": "alice"}""", (body, actor) => incidents.AssignAsync(id, body.Assignee, actor, ct), ct));
        app.MapPost("/api/incidents/{id:guid}/comment", (Guid id, HttpRequest request, IncidentService incidents, CancellationToken ct) =>
            ActAsync<CommentRequest>(request, "The comment was not added.", """{"text": "looking at the disk"}""", (body, actor) => incidents.CommentAsync(id, body.Text, actor, ct), ct));
        app.MapPost("/api/incidents/{id:guid}/resolve", (Guid id, HttpRequest request, IncidentService incidents, CancellationToken ct) =>
            ActAsync<ResolveRequest>(request, "The incident was not resolved.", """{"reason": "fixed by hand"}""", (body, actor) => incidents.ResolveAsync(id, body.Reason, actor, ct), ct));
        app.MapPost("/api/incidents/{id:guid}/run", async (Guid id, HttpRequest request, IncidentService incidents, CancellationToken ct) =>
        {
            Guid? mission = null;
            var result = await ActAsync<RunRequest>(request, "The playbook was not run.", """{"playbook": "checkpoint-demo-db", "dryRun": true}""",
                async (body, actor) => mission = await incidents.RunPlaybookAsync(id, body.Playbook, body.DryRun, actor, ct), ct);
            return mission is { } m ? Results.Accepted($"/missions/{m}", new { incident = id, mission = m, link = $"/missions/{m}" }) : result;
        });
        return app;
    }

    public sealed record AcknowledgeRequest;

    private static async Task<IResult> ActAsync<T>(HttpRequest request, string title, string example, Func<T, Actor, Task> act, CancellationToken ct)
        where T : class
    {
        var (body, problem) = await IngestionExtensions.ReadBodyAsync<T>(request, title, example, ct);
        if (problem is not null)
        {
            return problem;
        }

        var actor = CurrentActor.FromPrincipal(request.HttpContext.User, request.HttpContext.Connection.RemoteIpAddress?.ToString());
        try
        {
            await act(body!, actor);
            return Results.Ok(new { done = true });
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
}
