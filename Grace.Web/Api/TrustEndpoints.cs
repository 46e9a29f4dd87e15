using Grace.Engine.Learn;
using Grace.Engine.Missions;
using Grace.Web.Identity;

namespace Grace.Web.Api;

/// <summary>
/// Earned autonomy over HTTP: each playbook's record, what the rule makes of it, its suggestion and
/// its shadow statistics (any signed-in person); accepting or declining a tier suggestion and
/// toggling shadow mode (Leads and Admins: 403 naming the roles before the body is read, as the
/// approval endpoints do). The engine's services hold the rules; bad input is a 400 naming the field.
/// </summary>
public static class TrustEndpoints
{
    /// <summary>The body of a decision on a suggestion: a reason (required to decline).</summary>
    public sealed record SuggestionDecision(string? Reason);

    /// <summary>The body of a shadow toggle: on or off, and why.</summary>
    public sealed record ShadowToggle(bool? Enabled, string? Reason);

    public static IEndpointRouteBuilder MapTrustEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/trust", async (TrustService trust, ShadowMode shadow, CancellationToken ct) =>
            Results.Ok((await trust.OverviewAsync(shadow, ct)).Select(p => new
            {
                playbook = p.PlaybookKey,
                tier = p.Assessment.Tier,
                record = new { p.Assessment.Runs, p.Assessment.Successes, p.Assessment.ShadowAgreements, p.Assessment.LowerBound, p.Assessment.RunsSinceRollback, p.Assessment.LastRollbackAt },
                eligible = p.Assessment.Eligible,
                suggestedTier = p.Assessment.SuggestedTier,
                moreSuccessesNeeded = p.Assessment.MoreSuccessesNeeded,
                distance = p.Assessment.Distance,
                suggestion = p.Suggestion is { } s ? new { s.Id, s.FromTier, s.ToTier, s.Runs, s.Successes, s.LowerBound, s.RunsSinceRollback, s.LastRollbackAt, s.CreatedAt } : null,
                earned = p.Earned is { } e ? new { e.Id, e.FromTier, e.ToTier, e.DecidedBy, e.DecidedAt } : null,
                shadow = p.Shadow,
                shadowStatistics = new
                {
                    p.ShadowStats.WouldHaveActed, p.ShadowStats.Agreed, p.ShadowStats.Disagreed, p.ShadowStats.HealedWithoutAction, p.ShadowStats.Pending,
                    p.ShadowStats.AgreementRate, p.ShadowStats.HealedWithoutActionRate,
                },
                patterns = p.Patterns.Select(x => new { pattern = x.PatternKey, x.Assessment.Runs, x.Assessment.Successes, x.Assessment.LowerBound, x.Assessment.Eligible, x.Assessment.Distance }),
            })));

        app.MapPost("/api/trust/suggestions/{id:guid}/accept", (Guid id, HttpRequest request, TrustService trust, CancellationToken ct) =>
            DecideAsync(id, accept: true, request, trust, ct));
        app.MapPost("/api/trust/suggestions/{id:guid}/decline", (Guid id, HttpRequest request, TrustService trust, CancellationToken ct) =>
            DecideAsync(id, accept: false, request, trust, ct));

        app.MapPost("/api/playbooks/{key}/shadow", async (string key, HttpRequest request, ShadowMode shadow, CancellationToken ct) =>
        {
            const string title = "Shadow mode was not changed.";
            if (Forbidden(request, title) is { } denied)
            {
                return denied;
            }

            var (body, problem) = await IngestionExtensions.ReadBodyAsync<ShadowToggle>(request, title, """{"enabled": true, "reason": "watch it for a week first"}""", ct);
            if (problem is not null)
            {
                return problem;
            }

            var errors = new Dictionary<string, string[]>();
            if (body!.Enabled is null)
            {
                errors["enabled"] = ["enabled is required: true to run the playbook in shadow, false to let it act."];
            }

            if (string.IsNullOrWhiteSpace(body.Reason))
            {
                errors["reason"] = ["reason is required: say why, for the audit log."];
            }

            if (errors.Count > 0)
            {
                return Results.ValidationProblem(errors, title: title);
            }

            return await RunAsync(title, async () =>
            {
                await shadow.SetAsync(key, body.Enabled!.Value, ActorOf(request), body.Reason, ct);
                return Results.Ok(new { playbook = key, shadow = body.Enabled });
            });
        });
        return app;
    }

    private static async Task<IResult> DecideAsync(Guid id, bool accept, HttpRequest request, TrustService trust, CancellationToken ct)
    {
        var title = accept ? "The tier suggestion was not accepted." : "The tier suggestion was not declined.";
        if (Forbidden(request, title) is { } denied)
        {
            return denied;
        }

        var (body, problem) = await IngestionExtensions.ReadBodyAsync<SuggestionDecision>(request, title,
            accept ? """{} or {"reason": "its record speaks for it"}""" : """{"reason": "not before the migration"}""", ct);
        if (problem is not null)
        {
            return problem;
        }

        if (!accept && string.IsNullOrWhiteSpace(body!.Reason))
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["reason"] = ["reason is required to decline: say why, for the audit log."] }, title: title);
        }

        return await RunAsync(title, async () =>
        {
            var decided = accept
                ? await trust.AcceptAsync(id, ActorOf(request), body!.Reason, ct)
                : await trust.DeclineAsync(id, ActorOf(request), body!.Reason, ct);
            return Results.Ok(new { suggestion = decided.Id, playbook = decided.PlaybookKey, status = decided.Status.ToString(), tier = accept ? decided.ToTier : decided.FromTier });
        });
    }

    private static IResult? Forbidden(HttpRequest request, string title)
    {
        var allowed = RolePermissions.RolesFor(Permission.ChangePolicy);
        return allowed.Any(request.HttpContext.User.IsInRole)
            ? null
            : Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: title,
                detail: $"{request.HttpContext.User.Identity?.Name} may not change tiers or shadow mode: it needs the {string.Join(" or ", allowed)} role.");
    }

    private static Actor ActorOf(HttpRequest request) =>
        CurrentActor.FromPrincipal(request.HttpContext.User, request.HttpContext.Connection.RemoteIpAddress?.ToString());

    private static async Task<IResult> RunAsync(string title, Func<Task<IResult>> act)
    {
        try
        {
            return await act();
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
