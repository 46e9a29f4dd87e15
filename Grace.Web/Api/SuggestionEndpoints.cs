using Grace.Engine.Learn.Mining;
using Grace.Engine.Missions;
using Grace.Web.Identity;

namespace Grace.Web.Api;

/// <summary>
/// Suggested patterns (mined from incidents no pattern matched), for Leads and Admins: list, read,
/// export as a catalog entry, dismiss. The engine's <see cref="SuggestionService"/> checks the role
/// again and audits both acts.
/// </summary>
public static class SuggestionEndpoints
{
    public sealed record ExportRequest(string? Key, string? Playbook);

    public sealed record DismissRequest(string? Reason);

    public static IEndpointRouteBuilder MapSuggestionEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/suggestions").RequireAuthorization(GracePolicies.ChangePolicy);
        group.MapGet("/", async (bool? includeDismissed, SuggestionService suggestions, CancellationToken ct) =>
            Results.Ok(await suggestions.ListAsync(includeDismissed ?? false, ct)));
        group.MapGet("/{id:guid}", async (Guid id, SuggestionService suggestions, CancellationToken ct) =>
            await suggestions.FindAsync(id, ct) is { } view
                ? Results.Ok(view)
                : Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such suggested pattern.", detail: $"Suggested pattern {id} does not exist."));
        group.MapPost("/{id:guid}/export", async (Guid id, HttpRequest request, SuggestionService suggestions, CancellationToken ct) =>
        {
            SuggestionExport? export = null;
            var result = await ActAsync<ExportRequest>(request, "The suggestion was not exported.", """{"key": "disk-full", "playbook": "clear-cache"}""",
                async (body, actor) => export = await suggestions.ExportAsync(id, body.Key, body.Playbook, actor, ct));
            return export is { } e ? Results.Ok(new { key = e.Key, json = e.Json }) : result;
        });
        group.MapPost("/{id:guid}/dismiss", (Guid id, HttpRequest request, SuggestionService suggestions, CancellationToken ct) =>
            ActAsync<DismissRequest>(request, "The suggestion was not dismissed.", """{"reason": "a one-off during the migration"}""",
                (body, actor) => suggestions.DismissAsync(id, body.Reason, actor, ct)));
        return app;
    }

    private static async Task<IResult> ActAsync<T>(HttpRequest request, string title, string example, Func<T, Actor, Task> act)
        where T : class
    {
        var (body, problem) = await IngestionExtensions.ReadBodyAsync<T>(request, title, example, request.HttpContext.RequestAborted);
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
