namespace Grace.Web.Api;

/// <summary>
/// A client's broken request (bad chunked framing, a body that stops mid-way or arrives too
/// slowly, a connection dropped while sending) is answered with a 4xx problem and logged at
/// Information. Logged at Error it would open an incident from Grace's own log, so any client
/// could raise incidents against Grace.
/// </summary>
public static class ClientErrors
{
    /// <summary>The 4xx answer for an exception a client caused, or null when the fault is Grace's.</summary>
    public static IResult? Describe(Exception exception, HttpContext context) => exception switch
    {
        BadHttpRequestException bad => Results.Problem(statusCode: bad.StatusCode is >= 400 and < 500 ? bad.StatusCode : StatusCodes.Status400BadRequest,
            title: "The request could not be read.", detail: bad.Message),
        // Only when the client went away: an IOException of Grace's own (a file, a socket to a target) stays a 500.
        Microsoft.AspNetCore.Connections.ConnectionResetException or OperationCanceledException or IOException
            when exception is Microsoft.AspNetCore.Connections.ConnectionResetException || context.RequestAborted.IsCancellationRequested =>
            Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "The request could not be read.",
                detail: "The connection ended before the whole body arrived."),
        _ => null,
    };

    /// <summary>Logs a client's broken request at Information: seen, counted, never an incident.</summary>
    public static void Note(HttpContext context, Exception exception) =>
        context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(ClientErrors).FullName!)
            .LogInformation("{Method} {Path} from {RemoteAddress}: the client's request was broken ({Error})",
                context.Request.Method, context.Request.Path, context.Connection.RemoteIpAddress, exception.Message);

    /// <summary>Catches what <see cref="Describe"/> recognises anywhere after it in the pipeline.</summary>
    public static IApplicationBuilder UseClientErrors(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        try
        {
            await next(context);
        }
        catch (Exception ex) when (Describe(ex, context) is { } problem)
        {
            Note(context, ex);
            if (context.Response.HasStarted || context.RequestAborted.IsCancellationRequested)
            {
                return;
            }

            context.Response.Clear();
            // The rest of a broken body cannot be trusted to frame the next request.
            context.Response.Headers.Connection = "close";
            await problem.ExecuteAsync(context);
        }
    });
}
