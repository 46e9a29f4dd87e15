using Grace.Web.Components.Shared;
using Grace.Web.Formatting;
using Microsoft.AspNetCore.Components;
using Microsoft.JSInterop;

namespace Grace.Web.Components.Charts;

/// <summary>
/// A chart that loads its own data, follows the engine live, and cuts time into the viewer's days:
/// it asks the browser for its time zone once per circuit and reloads when the answer comes.
/// </summary>
public abstract class ChartComponentBase : LiveComponentBase, IDisposable
{
    [Inject] protected ViewerClock Clock { get; set; } = default!;
    [Inject] protected ChartQueries Charts { get; set; } = default!;
    [Inject] private IJSRuntime JS { get; set; } = default!;

    /// <summary>Why the chart could not load, for the reader.</summary>
    protected string? Error { get; set; }

    protected override async Task OnInitializedAsync()
    {
        Clock.Changed += OnZoneKnown;
        await base.OnInitializedAsync();
    }

    protected override async Task OnAfterRenderAsync(bool firstRender)
    {
        if (firstRender)
        {
            await Clock.EnsureAsync(JS);
        }
    }

    /// <summary>Loads the chart's data, turning a failure into <see cref="Error"/>.</summary>
    protected abstract Task LoadChartAsync();

    protected sealed override async Task LoadAsync()
    {
        try
        {
            await LoadChartAsync();
            Error = null;
        }
        catch (Exception ex)
        {
            Error = $"The chart could not be loaded: {ex.Message}";
        }
    }

    private void OnZoneKnown() => _ = InvokeAsync(async () =>
    {
        await LoadAsync();
        StateHasChanged();
    });

    void IDisposable.Dispose()
    {
        Clock.Changed -= OnZoneKnown;
        Dispose();
        GC.SuppressFinalize(this);
    }
}
