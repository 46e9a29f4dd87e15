using System.Text;
using System.Text.Encodings.Web;
using System.Text.Unicode;
using Grace.Web.Formatting;
using Microsoft.AspNetCore.Components;
using MudBlazor;

namespace Grace.Web.Components.Shared;

/// <summary>
/// One list row's cells written as a single HTML string, every value HTML-encoded here.
/// </summary>
/// <remarks>
/// Why (issue 13, docs/decisions/0031-list-rows-as-markup.md): a row written in Razor is 50–60 render-tree frames
/// (elements, attributes, text), kept in the page's two render trees and copied into the renderer's batch
/// buffer, whose arrays keep their size for the life of the circuit: about 3.4 KB per row, 160 KB for a page
/// of 50 rows, in every open tab. As one markup frame the row costs its HTML once (the same string in both
/// trees when it did not change). Rows written this way hold no event handlers: links are plain
/// <c>&lt;a href&gt;</c>, which Blazor's navigation follows. Never append text without <see cref="Text"/>
/// or an attribute value without <see cref="Attribute"/>: this is the only place that encodes it.
/// </remarks>
public sealed class RowMarkup
{
    // Encodes what HTML needs encoded (< > & " ' and the like) in text and attribute values alike, and
    // leaves letters of every script as they are: a row of non-Latin text stays as short as it reads.
    private static readonly HtmlEncoder Encoder = HtmlEncoder.Create(UnicodeRanges.All);

    private readonly StringBuilder _html = new(1024);

    /// <summary>Opens a cell: <c>&lt;td data-label class="mud-table-cell …"&gt;</c> (the label names the column when the row folds into a card below 960 px).</summary>
    public RowMarkup Cell(string label, string? extraClass = null, string? style = null)
    {
        _html.Append("<td");
        Attribute("data-label", label);
        Attribute("class", extraClass is null ? "mud-table-cell" : "mud-table-cell " + extraClass);
        if (style is not null)
        {
            Attribute("style", style);
        }

        _html.Append('>');
        return this;
    }

    /// <summary>Closes the cell opened last.</summary>
    public RowMarkup EndCell()
    {
        _html.Append("</td>");
        return this;
    }

    /// <summary>A cell holding only text.</summary>
    public RowMarkup TextCell(string label, string? text, string? extraClass = null, string? style = null) =>
        Cell(label, extraClass, style).Text(text).EndCell();

    /// <summary>Text, encoded.</summary>
    public RowMarkup Text(string? text)
    {
        if (!string.IsNullOrEmpty(text))
        {
            _html.Append(Encoder.Encode(text));
        }

        return this;
    }

    /// <summary>A link in MudLink's classes (primary, underlined on hover) to a page of the console.</summary>
    public RowMarkup Link(string href, string text, string? extraClass = null, string? ariaLabel = null)
    {
        _html.Append("<a");
        Attribute("href", href);
        Attribute("class", extraClass is null ? LinkClass : LinkClass + " " + extraClass);
        if (ariaLabel is not null)
        {
            Attribute("aria-label", ariaLabel);
        }

        _html.Append('>');
        Text(text);
        _html.Append("</a>");
        return this;
    }

    /// <summary>A small chip in MudChip's classes (filled unless <paramref name="outlined"/>).</summary>
    public RowMarkup Chip(Color color, string text, string extraClass, bool outlined = false)
    {
        _html.Append("<span");
        Attribute("class", ChipClass.Of(color, extraClass, outlined: outlined));
        _html.Append("><span class=\"mud-chip-content\">");
        Text(text);
        _html.Append("</span></span>");
        return this;
    }

    /// <summary>Opens an element named by the code (never by data) with the given classes and inline style; close it with <see cref="Close"/>.</summary>
    public RowMarkup Open(string tag, string? cssClass = null, string? style = null, string? role = null)
    {
        _html.Append('<').Append(tag);
        if (cssClass is not null)
        {
            Attribute("class", cssClass);
        }

        if (style is not null)
        {
            Attribute("style", style);
        }

        if (role is not null)
        {
            Attribute("role", role);
        }

        _html.Append('>');
        return this;
    }

    /// <summary>Closes the element <see cref="Open"/> opened.</summary>
    public RowMarkup Close(string tag)
    {
        _html.Append("</").Append(tag).Append('>');
        return this;
    }

    /// <summary>An element of text (<c>&lt;b&gt;</c>, <c>&lt;h6&gt;</c>, …), encoded.</summary>
    public RowMarkup Element(string tag, string? cssClass, string? text, string? style = null) => Open(tag, cssClass, style).Text(text).Close(tag);

    /// <summary>A <c>&lt;span&gt;</c> of text, encoded, with the given classes (none if null).</summary>
    public RowMarkup Span(string? cssClass, string? text) => Element("span", cssClass, text);

    /// <summary>An instant in the viewer's zone with the UTC time as its tooltip: <see cref="When"/>'s markup.</summary>
    public RowMarkup When(ViewerClock clock, DateTimeOffset? at, WhenStyle format = WhenStyle.Compact, string empty = "–")
    {
        _html.Append("<span class=\"when\"");
        if (at is { } instant)
        {
            Attribute("title", clock.Tooltip(instant));
            _html.Append('>');
            Text(Shared.When.Text(clock, instant, format));
        }
        else
        {
            _html.Append('>');
            Text(empty);
        }

        _html.Append("</span>");
        return this;
    }

    /// <summary>
    /// The cells written so far, as markup for one <c>&lt;tr&gt;</c>: the copy other circuits already show when they
    /// wrote the same row (<see cref="SharedText"/>), so a row costs its text once, not once per open tab.
    /// </summary>
    public MarkupString Build() => new(SharedText.Share(_html.ToString()));

    /// <summary>
    /// The cells written so far, as markup for a page rendered per request (the lists): the text lives as long as the
    /// request, so it is not remembered for sharing (that would cost a weak handle per row and request for nothing).
    /// </summary>
    public MarkupString BuildForRequest() => new(_html.ToString());

    private const string LinkClass = "mud-typography mud-link mud-primary-text mud-link-underline-hover mud-typography-body1";

    private void Attribute(string name, string value)
    {
        _html.Append(' ').Append(name).Append("=\"");
        _html.Append(Encoder.Encode(value));
        _html.Append('"');
    }
}

/// <summary>
/// A list row as a page writes it: its identity, its <c>&lt;tr&gt;</c> class and its cells as markup. The lists
/// render per request (docs/decisions/0034-lists-rendered-per-request.md), so rows live as long as the request.
/// </summary>
/// <param name="Key">The row's identity (the entity's id).</param>
/// <param name="RowClass">The row's classes.</param>
/// <param name="Cells">The row's cells, encoded (<see cref="RowMarkup"/>).</param>
public sealed record ListRow(object Key, string RowClass, MarkupString Cells);
