using MudBlazor;

namespace Grace.Web.Components.Layout;

/// <summary>
/// Grace's colours: MudBlazor's defaults, darkened where white text on them (chips, filled buttons)
/// or their text on a light alert fell below the 4.5:1 contrast WCAG AA asks for (the axe scan in
/// ShellBrowserTests checks every page).
/// </summary>
public static class GraceTheme
{
    /// <summary>
    /// The one theme every page renders with. The shell renders it statically per request, so no circuit
    /// holds a copy (it was one MudTheme, both palettes, per circuit: about 13 KB). Not changed after start.
    /// </summary>
    public static MudTheme Shared { get; } = Create();

    public static MudTheme Create() => new()
    {
        PaletteLight = new PaletteLight
        {
            Success = "#2e7d32",
            Error = "#c62828",
            Warning = "#a84b00",
            Info = "#1565c0",
            Secondary = "#c2185b",
            Tertiary = "#00796b",
        },
    };
}
