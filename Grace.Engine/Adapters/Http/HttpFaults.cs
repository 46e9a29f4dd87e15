using Grace.Engine.Faults;
using Grace.Engine.Targets;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Adapters.Http;

/// <summary>
/// Puts Grace's demo orders service in a stuck state: its health and orders endpoints answer 503
/// until its admin reset is called. Only the service Grace serves itself; never someone else's.
/// </summary>
public sealed class HealthEndpointFault(DemoService demoService, IOptionsMonitor<FaultOptions> options) : IFaultDemo
{
    public static readonly FaultKind Kind = new("HealthEndpointFailure");

    public FaultInfo Info { get; } = new(Kind, "Make a health endpoint fail",
        "Puts Grace's demo orders service in a stuck state: /health and /orders answer 503 until its admin reset is called.", HttpKind.Id, HasSize: false);

    public string? Unavailable(ResolvedTarget target)
    {
        var demo = options.CurrentValue.DemoServiceTarget;
        if (!string.Equals(target.Key, demo, StringComparison.OrdinalIgnoreCase))
        {
            return $"'{target.Key}' is not Grace's demo service (Grace:Faults:DemoServiceTarget is '{demo}'): Grace only breaks an endpoint it serves itself.";
        }

        return demoService.IsListening ? null : $"The demo service '{target.Key}' is not listening: see Grace's start-up log about Grace:Targets:{target.Key}:Url.";
    }

    public Task<string> InjectAsync(ResolvedTarget target, int megabytes, CancellationToken cancellationToken)
    {
        demoService.Fail("the orders store connection pool is exhausted");
        return Task.FromResult($"The demo service at {target.Settings<HttpTarget>().Url} is stuck: its health endpoint answers 503 until POST /admin/reset-pool.");
    }
}
