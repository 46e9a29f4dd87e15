using System.Globalization;
using System.Text;
using Grace.Engine.Missions;

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
            var csv = new StringBuilder("at,mission,pattern,playbook,target,final_state,success,rolled_back,time_to_recover_s\n");
            foreach (var o in outcomes)
            {
                csv.Append(CultureInfo.InvariantCulture, $"{o.At:O},{o.MissionId},{Field(o.PatternKey)},{Field(o.PlaybookKey)},{Field(o.Target)},{o.FinalState},")
                   .Append(CultureInfo.InvariantCulture, $"{(o.Success ? "true" : "false")},{(o.RolledBack ? "true" : "false")},{o.TimeToRecoverSeconds?.ToString("0.###", CultureInfo.InvariantCulture)}\n");
            }

            return Results.File(Encoding.UTF8.GetBytes(csv.ToString()), "text/csv", $"grace-outcomes-{period}d.csv");
        });
        return app;
    }

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
