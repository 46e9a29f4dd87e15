using Grace.Engine.Notifications;
using Microsoft.AspNetCore.Components;

namespace Grace.Web.Components.Shared;

/// <summary>
/// A page that follows the engine live. It subscribes to the in-process notifier, and when
/// relevant events arrive it reloads and re-renders at most once per <see cref="RefreshInterval"/>,
/// so hundreds of events a second cost a few renders, not hundreds.
/// </summary>
public abstract class LiveComponentBase : ComponentBase, IDisposable
{
    private IDisposable? _subscription;
    private ITimer? _timer;
    private int _dirty;
    private int _scheduled;

    [Inject] private IPipelineNotifier Notifier { get; set; } = default!;
    [Inject] private TimeProvider Time { get; set; } = default!;

    /// <summary>The shortest time between two live refreshes.</summary>
    protected virtual TimeSpan RefreshInterval => TimeSpan.FromMilliseconds(250);

    /// <summary>Whether an event concerns this page.</summary>
    protected virtual bool IsRelevant(PipelineEvent pipelineEvent) => true;

    /// <summary>Reloads the page's data; called once at start and after relevant events.</summary>
    protected abstract Task LoadAsync();

    protected override async Task OnInitializedAsync()
    {
        _subscription = Notifier.Subscribe(OnEventAsync);
        await LoadAsync();
    }

    private Task OnEventAsync(PipelineEvent pipelineEvent)
    {
        if (!IsRelevant(pipelineEvent))
        {
            return Task.CompletedTask;
        }

        Interlocked.Exchange(ref _dirty, 1);
        if (Interlocked.CompareExchange(ref _scheduled, 1, 0) == 0)
        {
            _timer?.Dispose();
            _timer = Time.CreateTimer(_ => _ = RefreshAsync(), null, RefreshInterval, Timeout.InfiniteTimeSpan);
        }

        return Task.CompletedTask;
    }

    private async Task RefreshAsync()
    {
        Interlocked.Exchange(ref _scheduled, 0);
        if (Interlocked.Exchange(ref _dirty, 0) == 0)
        {
            return;
        }

        try
        {
            await InvokeAsync(async () =>
            {
                await LoadAsync();
                StateHasChanged();
            });
        }
        catch (ObjectDisposedException)
        {
            // The circuit closed between the event and the refresh.
        }
        catch (Exception ex)
        {
            await DispatchExceptionAsync(ex);
        }
    }

    /// <summary>Releases what a page holds beyond the live subscription (other services' events).</summary>
    protected virtual void OnDisposing()
    {
    }

    public void Dispose()
    {
        _subscription?.Dispose();
        _timer?.Dispose();
        OnDisposing();
        GC.SuppressFinalize(this);
    }
}
