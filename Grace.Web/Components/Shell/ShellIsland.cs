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

    protected override async Task OnInitializedAsync() => Figures = await Status.CurrentAsync();

    // OnAfterRender runs only in the circuit, not while prerendering: only a live island listens. A change
    // between the first read and the subscription is caught by reading once more (shared, usually cached).
    protected override void OnAfterRender(bool firstRender)
    {
        if (firstRender)
        {
            Status.Changed += OnChanged;
            OnChanged();
        }
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
