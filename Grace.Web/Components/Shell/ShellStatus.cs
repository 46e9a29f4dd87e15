using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Gate;
using Grace.Engine.Notifications;
using Microsoft.EntityFrameworkCore;

namespace Grace.Web.Components.Shell;

/// <summary>
/// The two live figures of the navigation shell: whether the kill switch is engaged and how many missions
/// wait for approval. Scoped: the shell's islands of one request (prerender) or one circuit share one read
/// and one subscription to the pipeline notifier, instead of each asking the database.
/// Two cheap queries, not the Overview's figures: the shell is on every page.
/// </summary>
public sealed class ShellStatus(IDbContextFactory<GraceDbContext> dbFactory, KillSwitch killSwitch, IPipelineNotifier notifier, ILogger<ShellStatus> logger) : IDisposable
{
    private readonly Lock _lock = new();
    private Task<ShellFigures>? _current;
    private IDisposable? _subscription;
    private Action? _changed;

    /// <summary>Raised (on the notifier's thread) after a kill-switch or approval event; read <see cref="CurrentAsync"/> again.</summary>
    public event Action Changed
    {
        add
        {
            lock (_lock)
            {
                _changed += value;
                // Subscribed on the first island's interest only: a prerender that never listens does not subscribe.
                _subscription ??= notifier.Subscribe(e =>
                {
                    if (e is KillSwitchChanged or ApprovalRequested or ApprovalDecided)
                    {
                        lock (_lock)
                        {
                            _current = null;
                        }

                        _changed?.Invoke();
                    }

                    return Task.CompletedTask;
                });
            }
        }
        remove
        {
            lock (_lock)
            {
                _changed -= value;
            }
        }
    }

    /// <summary>The figures, read once per change and shared by the islands.</summary>
    public Task<ShellFigures> CurrentAsync()
    {
        lock (_lock)
        {
            return _current ??= ReadAsync();
        }
    }

    private async Task<ShellFigures> ReadAsync()
    {
        try
        {
            await using var db = await dbFactory.CreateDbContextAsync();
            var pending = await db.Missions.CountAsync(m => m.State == MissionState.AwaitingApproval);
            return new ShellFigures(await killSwitch.IsEngagedAsync(CancellationToken.None), pending);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The shell's badges are a convenience; the pages report database errors themselves.
            logger.LogWarning(e, "The shell could not read the kill switch and pending approvals.");
            lock (_lock)
            {
                _current = null;
            }

            return new ShellFigures(false, 0);
        }
    }

    public void Dispose() => _subscription?.Dispose();
}

/// <summary>What the shell shows live.</summary>
public sealed record ShellFigures(bool KillSwitchEngaged, int PendingApprovals);
