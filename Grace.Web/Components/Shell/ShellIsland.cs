using Microsoft.AspNetCore.Components;

namespace Grace.Web.Components.Shell;

/// <summary>
/// A live part of the otherwise static navigation shell: one small interactive root component that
/// re-renders when <see cref="ShellStatus"/> changes. Kept tiny on purpose; every circuit holds it.
/// </summary>
public abstract class ShellIsland : ComponentBase, IDisposable
{
    [Inject] private ShellStatus Status { get; set; } = default!;

    protected ShellFigures Figures { get; private set; } = new(false, 0);

    protected override async Task OnInitializedAsync()
    {
        if (RendererInfo.IsInteractive)
        {
            Status.Changed += OnChanged;
        }

        Figures = await Status.CurrentAsync();
    }

    private void OnChanged() => _ = InvokeAsync(async () =>
    {
        Figures = await Status.CurrentAsync();
        StateHasChanged();
    });

    public void Dispose()
    {
        Status.Changed -= OnChanged;
        GC.SuppressFinalize(this);
    }
}
