using Grace.Engine.Configuration;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using Polly.Registry;
using Polly.Retry;
using Polly.Telemetry;
using Polly.Timeout;

namespace Grace.Engine.Execute;

/// <summary>
/// The Polly pipelines every executor and probe call goes through: a timeout, a retry with
/// jitter on transient faults only, and a circuit breaker per target, so a sick target is left
/// alone for a while instead of hammered.
/// </summary>
public sealed class ActionResilience(ResiliencePipelineRegistry<string> registry, IOptionsMonitor<EngineOptions> options, Targets.TargetRegistry targets, TargetBreakers breakers)
{
    /// <summary>The breaker of a target's outbound calls, once a call has created it.</summary>
    public bool TryGetBreaker(string target, out CircuitBreakerStateProvider state, out CircuitBreakerManualControl control) =>
        breakers.TryGet(target, out state, out control);

    private (CircuitBreakerStateProvider State, CircuitBreakerManualControl Control) BreakerOf(string target) => breakers.Of(target);

    public ResiliencePipeline ForAction(string target) => registry.GetOrAddPipeline($"grace:action:{target}", builder =>
    {
        builder
            .AddTimeout(TimeSpan.FromSeconds(options.CurrentValue.ActionTimeoutSeconds))
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<Exception>(ex => IsTransient(target, ex)),
                MaxRetryAttempts = 3,
                Delay = TimeSpan.FromMilliseconds(200),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
            })
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<Exception>(ex => ex is not ActionRefusedException and not OperationCanceledException),
                FailureRatio = 0.5,
                MinimumThroughput = 4,
                SamplingDuration = TimeSpan.FromMinutes(2),
                BreakDuration = TimeSpan.FromSeconds(30),
                StateProvider = BreakerOf(target).State,
                ManualControl = BreakerOf(target).Control,
            });
    });

    /// <summary>
    /// Rollbacks retry transient faults but never meet the breaker: the action's failures may have
    /// opened it, and that is exactly when the rollback must still run.
    /// </summary>
    public ResiliencePipeline ForRollback(string target) => registry.GetOrAddPipeline($"grace:rollback:{target}", builder =>
    {
        builder
            .AddTimeout(TimeSpan.FromSeconds(options.CurrentValue.ActionTimeoutSeconds))
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<Exception>(ex => IsTransient(target, ex)),
                MaxRetryAttempts = 5,
                Delay = TimeSpan.FromMilliseconds(200),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
            });
    });

    public ResiliencePipeline ForProbe(string target) => registry.GetOrAddPipeline($"grace:probe:{target}", builder =>
    {
        builder
            .AddTimeout(TimeSpan.FromSeconds(10))
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<Exception>(ex => IsTransient(target, ex)),
                MaxRetryAttempts = 2,
                Delay = TimeSpan.FromMilliseconds(100),
                UseJitter = true,
            });
    });

    /// <summary>
    /// How loud Polly's events about Grace's own pipelines are. A failed probe is already a health
    /// signal or a contract reading, and a failed action a mission event: logged as errors too, Grace's
    /// own-error capture would open a second, pattern-less incident for every one of them.
    /// </summary>
    public static ResilienceEventSeverity Severity(SeverityProviderArguments args) => args.Source.PipelineName switch
    {
        { } name when name.StartsWith("grace:probe:", StringComparison.Ordinal) => ResilienceEventSeverity.Debug,
        { } name when name.StartsWith("grace:", StringComparison.Ordinal) && args.Event.Severity > ResilienceEventSeverity.Warning => ResilienceEventSeverity.Warning,
        _ => args.Event.Severity,
    };

    /// <summary>
    /// Faults worth retrying: a timeout, and what the target's kind calls transient (a busy database,
    /// a flaky connection). Never a refusal.
    /// </summary>
    public bool IsTransient(string target, Exception ex) => ex switch
    {
        ActionRefusedException => false,
        TimeoutRejectedException or TimeoutException => true,
        _ => targets.IsTransient(target, ex),
    };
}

/// <summary>
/// The circuit breaker of each target's outbound calls. Kept apart from <see cref="ActionResilience"/>
/// so the breaker actions can read and reset it without depending on the target registry, which the
/// catalog check (and so every action) sits beneath.
/// </summary>
public sealed class TargetBreakers
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (CircuitBreakerStateProvider State, CircuitBreakerManualControl Control)> _breakers =
        new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The breaker of a target's outbound calls, once a call has created it.</summary>
    public bool TryGet(string target, out CircuitBreakerStateProvider state, out CircuitBreakerManualControl control)
    {
        var found = _breakers.TryGetValue(target, out var breaker);
        (state, control) = breaker;
        return found;
    }

    internal (CircuitBreakerStateProvider State, CircuitBreakerManualControl Control) Of(string target) =>
        _breakers.GetOrAdd(target, _ => (new CircuitBreakerStateProvider(), new CircuitBreakerManualControl()));
}
