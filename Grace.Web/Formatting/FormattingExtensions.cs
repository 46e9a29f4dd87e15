using Grace.Web.Components.Charts;

namespace Grace.Web.Formatting;

public static class FormattingExtensions
{
    /// <summary>The viewer's clock (one per circuit) and the chart read models.</summary>
    public static IServiceCollection AddGraceConsoleFormatting(this IServiceCollection services)
    {
        services.AddScoped<ViewerClock>();
        services.AddSingleton<ChartQueries>();
        return services;
    }
}
