using MudBlazor;

namespace Grace.Web.Components.Shared;

/// <summary>
/// The classes of a MudChip, for chips written as plain markup (a MudChip component costs every circuit
/// two render trees of its own, docs/decisions/0030-plain-pages.md). One place, so every plain chip looks
/// like MudBlazor's and like the others.
/// </summary>
public static class ChipClass
{
    /// <summary><c>mud-chip mud-chip-filled|outlined mud-chip-size-… mud-chip-color-…</c>, then <paramref name="extra"/>.</summary>
    public static string Of(Color color, string? extra = null, bool outlined = false, Size size = Size.Small) =>
        $"mud-chip mud-chip-{(outlined ? "outlined" : "filled")} mud-chip-size-{size.ToString().ToLowerInvariant()} mud-chip-color-{color.ToString().ToLowerInvariant()}"
        + (string.IsNullOrEmpty(extra) ? "" : " " + extra);
}
