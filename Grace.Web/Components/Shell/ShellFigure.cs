using Microsoft.AspNetCore.Components;

namespace Grace.Web.Components.Shell;

/// <summary>
/// A live figure of the static navigation shell (the kill-switch banner, the pending-approvals count), rendered
/// with the shell on every request from <see cref="ShellStatus"/>. It is not an interactive root: each would cost
/// every circuit a root component of its own. <see cref="PageChrome"/>, which every page's circuit already holds,
/// keeps the figures live by calling <c>grace.shell</c> (wwwroot/grace.js), which rewrites the contents of the
/// figure's slot element with the same markup (docs/decisions/0033-shell-figures-without-islands.md).
/// </summary>
public abstract class ShellFigure : ComponentBase
{
    [Inject] private ShellStatus Status { get; set; } = default!;

    protected ShellFigures Figures { get; private set; } = new(false, 0);

    protected override async Task OnInitializedAsync() => Figures = await Status.CurrentAsync();
}
