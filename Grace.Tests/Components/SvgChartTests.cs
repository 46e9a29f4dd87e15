using System.Globalization;
using Bunit;
using Grace.Web.Components.Shared;
using Microsoft.AspNetCore.Components;
using MudBlazor;

namespace Grace.Tests.Components;

/// <summary>The charts' SVG markup: what people type shows as text, nothing to draw says so, values land where they belong.</summary>
public sealed class SvgChartTests : BunitContext
{
    private IRenderedComponent<Bunit.Rendering.ContainerFragment> Show(MarkupString chart) =>
        Render((RenderFragment)(b => b.AddContent(0, chart)));

    private static double Number(AngleSharp.Dom.IElement element, string attribute) =>
        double.Parse(element.GetAttribute(attribute)!, CultureInfo.InvariantCulture);

    [Fact]
    public void Labels_and_names_with_markup_or_quotes_show_as_text()
    {
        const string label = "<script>alert('x')</script>";
        const string name = "\"quoted\" & 'single' <b>bold</b>";
        const string title = "Runs \" onload=\"alert(1)";
        var chart = SvgChart.Render(SvgChartKind.Bars, [label, "ok"], [new SvgSeries(name, [3, 1])],
            new SvgChartOptions { Title = title, ShowValues = true, LabelHeader = "<i>Day</i>" });
        Assert.DoesNotContain("<script>", chart.Value);
        Assert.DoesNotContain("<b>", chart.Value);

        var cut = Show(chart);
        Assert.Empty(cut.FindAll("script"));
        Assert.Empty(cut.FindAll("b"));
        Assert.Empty(cut.FindAll("i"));
        var svg = cut.Find("svg");
        Assert.Equal(title, svg.GetAttribute("aria-label"));
        Assert.False(svg.HasAttribute("onload"));
        Assert.Equal("img", svg.GetAttribute("role"));
        Assert.Equal(title, cut.Find("svg > title").TextContent);
        Assert.Equal([label, "ok"], cut.FindAll(".grace-chart-x text").Select(t => t.TextContent));
        Assert.Equal(name, cut.Find(".grace-chart-legend-item").TextContent);
        Assert.Equal($"{label} · {name}: 3", cut.Find("rect.grace-chart-bar title").TextContent);
        // The figures table, for screen readers: the same texts, as text.
        Assert.Equal(["<i>Day</i>", name], cut.FindAll(".grace-chart-figures thead th").Select(t => t.TextContent));
        Assert.Equal([label, "ok"], cut.FindAll(".grace-chart-figures tbody th").Select(t => t.TextContent));
        Assert.Equal(["3", "1"], cut.FindAll(".grace-chart-figures tbody td").Select(t => t.TextContent));
    }

    [Fact]
    public void Nothing_to_draw_renders_the_empty_text_not_an_exception()
    {
        var options = new SvgChartOptions { Title = "Runs", CssClass = "chart-runs", EmptyText = "No <run> yet." };
        foreach (var chart in new[]
        {
            SvgChart.Render(SvgChartKind.Bars, [], [], options),
            SvgChart.Render(SvgChartKind.Lines, ["Dec 1", "Dec 2"], [], options),
            SvgChart.Render(SvgChartKind.Lines, ["Dec 1", "Dec 2"], [new SvgSeries("a", [null, double.NaN])], options),
            SvgChart.Render(SvgChartKind.Bars, ["Dec 1"], [new SvgSeries("a", [])], options),
        })
        {
            var cut = Show(chart);
            Assert.Empty(cut.FindAll("svg"));
            Assert.Equal("No <run> yet.", cut.Find("p.grace-chart-empty.chart-runs").TextContent);
        }
    }

    [Fact]
    public void Bars_scale_to_their_values_from_a_zero_baseline_in_the_series_theme_colour()
    {
        var cut = Show(SvgChart.Render(SvgChartKind.Bars, ["a", "b", "c", "d"], [new SvgSeries("runs", [1, 2, 4, 0], Color.Success)],
            new SvgChartOptions { Title = "Runs", Height = 200 }));
        var bars = cut.FindAll("rect.grace-chart-bar");
        Assert.Equal(3, bars.Count); // a zero draws no bar
        var heights = bars.Select(b => Number(b, "height")).ToList();
        Assert.Equal(heights[0] * 2, heights[1], 0.2);
        Assert.Equal(heights[0] * 4, heights[2], 0.2);
        // All stand on the same baseline, and the tallest reaches the axis' top (4, a round step).
        Assert.Single(bars.Select(b => Math.Round(Number(b, "y") + Number(b, "height"))).Distinct());
        Assert.Equal(["0", "1", "2", "3", "4"], cut.FindAll(".grace-chart-y text").Select(t => t.TextContent));
        var top = Number(cut.FindAll(".grace-chart-grid line")[^1], "y1");
        Assert.Equal(top, Number(bars[2], "y"), 0.2);
        Assert.Contains("fill:var(--mud-palette-success)", cut.Find("g.grace-chart-bars").GetAttribute("style"));
        // Bars of one label sit in its slot, left to right.
        Assert.True(Number(bars[0], "x") < Number(bars[1], "x") && Number(bars[1], "x") < Number(bars[2], "x"));
    }

    [Fact]
    public void Lines_reach_the_suggested_top_and_leave_a_gap_where_a_value_is_missing()
    {
        var cut = Show(SvgChart.Render(SvgChartKind.Lines, ["d1", "d2", "d3", "d4"], [new SvgSeries("rate", [50, 100, null, 0])],
            new SvgChartOptions { Title = "Rate", SuggestedMax = 100, Format = v => $"{v:0} %" }));
        Assert.Equal(["0 %", "25 %", "50 %", "75 %", "100 %"], cut.FindAll(".grace-chart-y text").Select(t => t.TextContent));
        var d = cut.Find("path.grace-chart-line").GetAttribute("d")!.Split(' ');
        // Two runs of the line: d1 → d2, then d4 alone (d3 is a gap, not a zero).
        Assert.Equal(["M", "L", "M"], d.Where(t => t is "M" or "L"));
        var ys = cut.FindAll(".grace-chart-markers circle").Select(c => Number(c, "cy")).ToList();
        Assert.Equal(3, ys.Count);
        var grid = cut.FindAll(".grace-chart-grid line").Select(l => Number(l, "y1")).ToList();
        Assert.Equal(grid[^1], ys[1], 0.2); // 100 % at the top line
        Assert.Equal(grid[0], ys[2], 0.2);  // 0 % on the bottom line
        Assert.Equal((grid[0] + grid[^1]) / 2, ys[0], 0.2);
        Assert.Equal("d2 · rate: 100 %", cut.FindAll(".grace-chart-markers circle title")[1].TextContent);
        Assert.Equal(["50 %", "100 %", "–", "0 %"], cut.FindAll(".grace-chart-figures tbody td").Select(t => t.TextContent));
    }

    [Theory]
    [InlineData(0, 4, null, 0, 4, 1)]
    [InlineData(0, 7, 100.0, 0, 100, 25)]
    [InlineData(0, 0, null, 0, 1, 0.25)]
    [InlineData(0, 130, null, 0, 150, 50)]
    [InlineData(-3, 9, null, -5, 10, 5)]
    public void The_value_axis_runs_in_round_steps_from_zero(double min, double max, double? suggested, double low, double high, double step) =>
        Assert.Equal((low, high, step), SvgChart.Scale(min, max, suggested));

    [Fact]
    public void Counts_step_by_whole_numbers_and_one_bar_stays_narrow()
    {
        // One run on one day: the axis reads 0 and 1 (not "0, 0, 1, 1, 1" from steps of a quarter), and the bar does not fill the chart.
        var cut = Show(SvgChart.Render(SvgChartKind.Bars, ["Dec 1"], [new SvgSeries("runs", [1])],
            new SvgChartOptions { Title = "Runs", WholeNumbers = true, Format = v => $"{v:0}" }));
        Assert.Equal(["0", "1"], cut.FindAll(".grace-chart-y text").Select(t => t.TextContent));
        var bar = cut.Find("rect.grace-chart-bar");
        Assert.True(Number(bar, "width") <= 48, $"width {bar.GetAttribute("width")}");
        // Centred under its label.
        Assert.Equal(Number(cut.Find(".grace-chart-x text"), "x"), Number(bar, "x") + Number(bar, "width") / 2, 1.0);
    }
}
