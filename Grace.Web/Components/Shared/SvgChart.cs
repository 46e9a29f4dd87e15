using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Unicode;
using Microsoft.AspNetCore.Components;
using MudBlazor;

namespace Grace.Web.Components.Shared;

/// <summary>How <see cref="SvgChart"/> draws its series.</summary>
public enum SvgChartKind
{
    /// <summary>Bars side by side per label (one per series).</summary>
    Bars,

    /// <summary>One line per series through the labels, with a marker at each value; a missing value is a gap.</summary>
    Lines,
}

/// <summary>One series of a chart: its name (legend, tooltips, the figures' column) and one value per label (null: none).</summary>
/// <param name="Name">What the series is, as people read it.</param>
/// <param name="Values">One value per label; null or not finite where there is none.</param>
/// <param name="Color">The theme colour to draw it in; null takes the next of <see cref="SvgChart.Palette"/>.</param>
public sealed record SvgSeries(string Name, IReadOnlyList<double?> Values, Color? Color = null);

/// <summary>What a chart says besides its data.</summary>
public sealed record SvgChartOptions
{
    /// <summary>The chart's accessible name (the SVG's label and title, the figures' caption).</summary>
    public required string Title { get; init; }

    /// <summary>Classes added to the chart's <c>&lt;figure&gt;</c> (tests and pages find a chart by them).</summary>
    public string? CssClass { get; init; }

    /// <summary>Height in CSS pixels; the width fills the container.</summary>
    public int Height { get; init; } = 240;

    /// <summary>How a value reads on the axis, in tooltips and in the figures.</summary>
    public Func<double, string> Format { get; init; } = v => v.ToString("0.##", CultureInfo.InvariantCulture);

    /// <summary>The value axis reaches at least this far (a rate's 100 %), even when the data stays lower.</summary>
    public double? SuggestedMax { get; init; }

    /// <summary>The values are counts: the axis steps by whole numbers (never 0, 0.25, 0.5 … read as "0, 0, 1").</summary>
    public bool WholeNumbers { get; init; }

    /// <summary>Writes each bar's value above it (only while there are few enough bars to read).</summary>
    public bool ShowValues { get; init; }

    /// <summary>Adds the figures as a table behind a disclosure, for screen readers and for people who want the numbers.</summary>
    public bool FiguresTable { get; init; } = true;

    /// <summary>The figures table's first column header: what a label is (a day, a pattern, a sample).</summary>
    public string LabelHeader { get; init; } = "Day";

    /// <summary>Shown instead of the chart when there is nothing to draw.</summary>
    public string EmptyText { get; init; } = "Nothing to chart yet.";
}

/// <summary>
/// A bar or line chart as one SVG markup string, built once per data change, every label and name encoded here.
/// </summary>
/// <remarks>
/// Why not MudChart (issue 13, docs/decisions/0032-svg-charts-and-one-reason-form.md): a MudChart is a tree of components, each
/// SVG element and attribute a render-tree frame kept twice per circuit; the Learning page's three charts were
/// most of its 70 components and ≈ 280 KB of frames per circuit. Written as one <see cref="MarkupString"/>, a
/// chart is one frame whose string both render trees share. Colours are MudBlazor's palette variables
/// (<c>var(--mud-palette-…)</c>), so the light and dark themes apply as they do to every other component. Each
/// bar and marker carries a <c>&lt;title&gt;</c> (the browser's hover tooltip), the SVG is an image named by
/// <see cref="SvgChartOptions.Title"/>, and the numbers are in a table for screen readers.
/// </remarks>
public static class SvgChart
{
    /// <summary>The theme colours series take in turn when they name none; beyond them lines are dashed and bars lighter.</summary>
    public static readonly IReadOnlyList<Color> Palette =
        [Color.Primary, Color.Secondary, Color.Tertiary, Color.Info, Color.Warning, Color.Success, Color.Error, Color.Dark];

    // Encodes what HTML and SVG need encoded (< > & " ' and the like) in text and attributes alike; letters of
    // every script stay as they are.
    private static readonly HtmlEncoder Encoder = HtmlEncoder.Create(UnicodeRanges.All);

    // The drawing's own units (the viewBox): the SVG scales to the container's width like MudChart's.
    private const double Width = 650;
    private const double Left = 64;
    private const double Right = 12;
    private const double Top = 18;
    private const double Bottom = 28;
    private const int MaxValueTexts = 48;
    private const double MaxBarWidth = 48;

    /// <summary>The CSS colour of a theme colour: its palette variable.</summary>
    public static string CssColor(Color color) => color switch
    {
        Color.Default or Color.Inherit or Color.Transparent => "var(--mud-palette-text-secondary)",
        _ => $"var(--mud-palette-{color.ToString().ToLowerInvariant()})",
    };

    /// <summary>The chart as markup: a figure with the SVG, its legend and (unless turned off) the figures table; or the empty text.</summary>
    /// <param name="kind">Bars or lines.</param>
    /// <param name="labels">The categories along the bottom (days, patterns, samples).</param>
    /// <param name="series">The series; each has one value per label (missing ones count as none).</param>
    /// <param name="options">Title, size, formatting.</param>
    public static MarkupString Render(SvgChartKind kind, IReadOnlyList<string> labels, IReadOnlyList<SvgSeries> series, SvgChartOptions options)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(series);
        ArgumentNullException.ThrowIfNull(options);

        var values = series.Select(s => Enumerable.Range(0, labels.Count).Select(i => ValueAt(s, i)).ToArray()).ToArray();
        var present = values.SelectMany(v => v).Where(v => v is not null).Select(v => v!.Value).ToList();
        var html = new StringBuilder(2048);
        if (labels.Count == 0 || present.Count == 0)
        {
            html.Append("<p");
            Attr(html, "class", Classes("mud-typography mud-typography-body2 grace-chart-empty", options.CssClass));
            html.Append('>').Append(Encoder.Encode(options.EmptyText)).Append("</p>");
            return new MarkupString(html.ToString());
        }

        var (min, max, step) = Scale(present.Min(), present.Max(), options.SuggestedMax, options.WholeNumbers);
        double height = Math.Max(options.Height, 80);
        var plotWidth = Width - Left - Right;
        var plotHeight = height - Top - Bottom;
        var slot = plotWidth / labels.Count;
        double Y(double v) => Top + plotHeight * (max - v) / (max - min);

        html.Append("<figure");
        Attr(html, "class", Classes("grace-chart", options.CssClass));
        html.Append("><svg");
        Attr(html, "viewBox", $"0 0 {N(Width)} {N(height)}");
        Attr(html, "width", "100%");
        Attr(html, "height", $"{N(height)}px");
        Attr(html, "role", "img");
        Attr(html, "aria-label", options.Title);
        html.Append("><title>").Append(Encoder.Encode(options.Title)).Append("</title>");

        // The value axis: grid lines at round steps, their values on the left.
        // Steps counted, not added up, so the top one is not lost to rounding.
        var ticks = Enumerable.Range(0, (int)Math.Round((max - min) / step) + 1).Select(k => min + k * step).ToList();
        html.Append("<g class=\"grace-chart-grid\">");
        foreach (var v in ticks)
        {
            var y = N(Y(v));
            html.Append("<line x1=\"").Append(N(Left)).Append("\" x2=\"").Append(N(Width - Right)).Append("\" y1=\"").Append(y).Append("\" y2=\"").Append(y).Append("\"/>");
        }

        html.Append("</g><g class=\"grace-chart-axis grace-chart-y\" text-anchor=\"end\">");
        foreach (var v in ticks)
        {
            html.Append("<text x=\"").Append(N(Left - 6)).Append("\" y=\"").Append(N(Y(v) + 4)).Append("\">").Append(Encoder.Encode(options.Format(v))).Append("</text>");
        }

        // The labels along the bottom, every k-th one where they would overlap.
        var every = (int)Math.Ceiling(labels.Count / Math.Max(1, Math.Floor(plotWidth / 60)));
        html.Append("</g><g class=\"grace-chart-axis grace-chart-x\" text-anchor=\"middle\">");
        for (var i = 0; i < labels.Count; i += every)
        {
            html.Append("<text x=\"").Append(N(Left + slot * (i + 0.5))).Append("\" y=\"").Append(N(height - Bottom + 18)).Append("\">").Append(Encoder.Encode(labels[i])).Append("</text>");
        }

        html.Append("</g>");
        if (kind == SvgChartKind.Bars)
        {
            Bars(html, labels, series, values, options, slot, Y(Math.Max(min, 0)), Y);
        }
        else
        {
            Lines(html, labels, series, values, options, slot, Y);
        }

        html.Append("</svg><ul class=\"grace-chart-legend\">");
        for (var s = 0; s < series.Count; s++)
        {
            html.Append("<li class=\"grace-chart-legend-item\"><span class=\"grace-chart-swatch\"");
            Attr(html, "style", $"background:{CssColor(ColorOf(series, s))}");
            html.Append("></span>").Append(Encoder.Encode(series[s].Name)).Append("</li>");
        }

        html.Append("</ul>");
        if (options.FiguresTable)
        {
            Figures(html, labels, series, values, options);
        }

        html.Append("</figure>");
        return new MarkupString(html.ToString());
    }

    private static void Bars(StringBuilder html, IReadOnlyList<string> labels, IReadOnlyList<SvgSeries> series, double?[][] values,
        SvgChartOptions options, double slot, double baseline, Func<double, double> y)
    {
        // At most MaxBarWidth wide, the group centred in its label's slot: one day's bar should not fill the chart.
        var barWidth = Math.Min(slot * 0.8 / series.Count, MaxBarWidth);
        var groupOffset = (slot - barWidth * series.Count) / 2;
        var showValues = options.ShowValues && values.Sum(v => v.Count(x => x is not null and not 0)) <= MaxValueTexts;
        for (var s = 0; s < series.Count; s++)
        {
            html.Append("<g class=\"grace-chart-bars\"");
            Attr(html, "style", $"fill:{CssColor(ColorOf(series, s))}" + (s >= Palette.Count ? ";fill-opacity:0.6" : ""));
            html.Append('>');
            for (var i = 0; i < labels.Count; i++)
            {
                // A zero is no bar (and no text): the figures table still lists it.
                if (values[s][i] is not { } v || v == 0)
                {
                    continue;
                }

                var x = Left + slot * i + groupOffset + barWidth * s;
                var top = Math.Min(y(v), baseline);
                html.Append("<rect class=\"grace-chart-bar\" x=\"").Append(N(x)).Append("\" y=\"").Append(N(top)).Append("\" width=\"").Append(N(Math.Max(barWidth - 1, 1)))
                    .Append("\" height=\"").Append(N(Math.Abs(baseline - y(v)))).Append("\"><title>")
                    .Append(Encoder.Encode($"{labels[i]} · {series[s].Name}: {options.Format(v)}")).Append("</title></rect>");
                if (showValues)
                {
                    html.Append("<text class=\"grace-chart-value\" text-anchor=\"middle\" x=\"").Append(N(x + barWidth / 2)).Append("\" y=\"").Append(N(top - 4)).Append("\">")
                        .Append(Encoder.Encode(options.Format(v))).Append("</text>");
                }
            }

            html.Append("</g>");
        }
    }

    private static void Lines(StringBuilder html, IReadOnlyList<string> labels, IReadOnlyList<SvgSeries> series, double?[][] values,
        SvgChartOptions options, double slot, Func<double, double> y)
    {
        for (var s = 0; s < series.Count; s++)
        {
            var color = CssColor(ColorOf(series, s));
            // A missing value ends the line; the next value starts a new one (M), so a gap is never drawn as a zero.
            var path = new StringBuilder();
            var drawing = false;
            for (var i = 0; i < labels.Count; i++)
            {
                if (values[s][i] is not { } v)
                {
                    drawing = false;
                    continue;
                }

                path.Append(path.Length == 0 ? "" : " ").Append(drawing ? "L " : "M ").Append(N(Left + slot * (i + 0.5))).Append(' ').Append(N(y(v)));
                drawing = true;
            }

            html.Append("<path class=\"grace-chart-line\" fill=\"none\" stroke-width=\"2\"");
            Attr(html, "style", $"stroke:{color}" + (s >= Palette.Count ? ";stroke-dasharray:6 3" : ""));
            Attr(html, "d", path.ToString());
            html.Append("/><g class=\"grace-chart-markers\"");
            Attr(html, "style", $"fill:{color}");
            html.Append('>');
            for (var i = 0; i < labels.Count; i++)
            {
                if (values[s][i] is { } v)
                {
                    html.Append("<circle r=\"3.5\" cx=\"").Append(N(Left + slot * (i + 0.5))).Append("\" cy=\"").Append(N(y(v))).Append("\"><title>")
                        .Append(Encoder.Encode($"{labels[i]} · {series[s].Name}: {options.Format(v)}")).Append("</title></circle>");
                }
            }

            html.Append("</g>");
        }
    }

    private static void Figures(StringBuilder html, IReadOnlyList<string> labels, IReadOnlyList<SvgSeries> series, double?[][] values, SvgChartOptions options)
    {
        html.Append("<details class=\"grace-chart-figures\"><summary class=\"mud-typography mud-typography-caption\">The figures</summary>")
            .Append("<div class=\"mud-table mud-simple-table mud-table-dense\"><div class=\"mud-table-container\"><table><caption class=\"sr-only\">")
            .Append(Encoder.Encode(options.Title)).Append("</caption><thead><tr><th scope=\"col\">").Append(Encoder.Encode(options.LabelHeader)).Append("</th>");
        foreach (var s in series)
        {
            html.Append("<th scope=\"col\">").Append(Encoder.Encode(s.Name)).Append("</th>");
        }

        html.Append("</tr></thead><tbody>");
        for (var i = 0; i < labels.Count; i++)
        {
            html.Append("<tr><th scope=\"row\">").Append(Encoder.Encode(labels[i])).Append("</th>");
            for (var s = 0; s < series.Count; s++)
            {
                html.Append("<td>").Append(values[s][i] is { } v ? Encoder.Encode(options.Format(v)) : "–").Append("</td>");
            }

            html.Append("</tr>");
        }

        html.Append("</tbody></table></div></div></details>");
    }

    /// <summary>The value axis: from zero (or below, for negative values) to a round top, in four or five round steps.</summary>
    internal static (double Min, double Max, double Step) Scale(double dataMin, double dataMax, double? suggestedMax, bool wholeNumbers = false)
    {
        var low = Math.Min(0, dataMin);
        var high = Math.Max(Math.Max(dataMax, suggestedMax ?? double.MinValue), 0);
        if (high - low <= 0)
        {
            high = low + 1;
        }

        var raw = (high - low) / 4;
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        var step = (raw / magnitude) switch
        {
            <= 1 => 1,
            <= 2 => 2,
            <= 2.5 => 2.5,
            <= 5 => 5,
            _ => 10,
        } * magnitude;
        if (wholeNumbers)
        {
            step = Math.Max(1, Math.Ceiling(step));
        }

        return (Math.Floor(low / step) * step, Math.Ceiling(high / step) * step, step);
    }

    private static double? ValueAt(SvgSeries series, int index) =>
        index < series.Values.Count && series.Values[index] is { } v && double.IsFinite(v) ? v : null;

    private static Color ColorOf(IReadOnlyList<SvgSeries> series, int index) => series[index].Color ?? Palette[index % Palette.Count];

    private static string Classes(string own, string? extra) => string.IsNullOrWhiteSpace(extra) ? own : $"{own} {extra}";

    private static string N(double value) => value.ToString("0.#", CultureInfo.InvariantCulture);

    private static void Attr(StringBuilder html, string name, string value) =>
        html.Append(' ').Append(name).Append("=\"").Append(Encoder.Encode(value)).Append('"');
}
