using Grace.Web.Components.Shared;
using MudBlazor;

namespace Grace.Tests.Components;

/// <summary>Rows many circuits write alike are kept once (issue 13); a circuit always gets exactly the text it wrote.</summary>
public sealed class SharedTextTests
{
    [Fact]
    public void Two_circuits_writing_the_same_row_hold_one_copy()
    {
        var id = Guid.NewGuid().ToString();
        var first = Row(id).Build().Value;
        var second = Row(id).Build().Value;

        Assert.Equal(first, second);
        Assert.Same(first, second);
    }

    [Fact]
    public void Different_text_is_never_swapped_for_a_shared_copy()
    {
        var id = Guid.NewGuid().ToString();
        var shown = Row(id).Build().Value;
        var other = Row(id + "-other").Build().Value;

        Assert.NotEqual(shown, other);
        Assert.Contains(id + "-other", other, StringComparison.Ordinal);
    }

    [Fact]
    public void A_string_equal_to_a_shared_one_gets_the_shared_copy_and_a_new_one_is_remembered()
    {
        var text = string.Concat("<td>", Guid.NewGuid().ToString(), "</td>");
        var copy = string.Concat(text.AsSpan(0, 4), text.AsSpan(4));
        Assert.NotSame(text, copy);

        Assert.Same(text, SharedText.Share(text));
        Assert.Same(text, SharedText.Share(copy));
    }

    private static RowMarkup Row(string id) => new RowMarkup()
        .TextCell("Id", id)
        .Cell("State").Chip(Color.Warning, "Open", "incident-status").EndCell();
}
