using Grace.Data;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Grace.Engine.Capture;

/// <summary>
/// Writes API keys' last-use times once a minute (and once more on stop), so a busy key costs one
/// UPDATE a minute instead of one per request. A failed write (the database away) is retried on
/// the next tick; the times wait in memory meanwhile.
/// </summary>
public sealed class ApiKeyUsageWriter(ApiKeyService keys, TimeProvider time, ILogger<ApiKeyUsageWriter> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(ApiKeyService.UsageFlushInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await FlushAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await FlushAsync(cancellationToken);
    }

    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        try
        {
            await keys.FlushUsageAsync(cancellationToken);
        }
        catch (Exception ex) when (DatabaseErrors.IsUnavailable(ex) || ex is OperationCanceledException)
        {
            logger.LogWarning("API key last-use times were not written ({Error}); retrying in a minute", ex.GetBaseException().Message);
        }
        catch (Exception ex)
        {
            // Grace's own fault, so Error (it becomes an incident); the loop goes on, the host must not stop for it.
            logger.LogError(ex, "API key last-use times could not be written; retrying in a minute");
        }
    }
}
