using Grace.Engine.Adapters;
using Grace.Engine.Capture;
using Grace.Engine.Cluster;
using Grace.Engine.Configuration;
using Grace.Engine.Diagnose;
using Grace.Engine.Execute;
using Grace.Engine.Gate;
using Grace.Engine.Learn;
using Grace.Engine.Missions;
using Grace.Engine.Notifications;
using Grace.Engine.Notifications.Outbox;
using Grace.Engine.Plan;
using Grace.Engine.Snapshot;
using Grace.Engine.Targets;
using Grace.Engine.Verify;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Polly;
using Serilog.Core;

namespace Grace.Engine;

public static class EngineServiceCollectionExtensions
{
    /// <summary>
    /// Registers the healing engine: options validated at start, the pipeline stages, the
    /// executors and probes, the in-process notifier, and the hosted capture and mission loops.
    /// </summary>
    public static IHostApplicationBuilder AddGraceEngine(this IHostApplicationBuilder builder)
    {
        builder.Services.AddGraceEngineServices();
        builder.AddGraceCluster();
        return builder;
    }

    /// <summary>The engine's registrations on a bare service collection (used by the host, and by component tests).</summary>
    public static IServiceCollection AddGraceEngineServices(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);

        services.AddOptions<EngineOptions>().BindConfiguration(EngineOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<CatalogOptions>().BindConfiguration(CatalogOptions.Section).ValidateOnStart();
        services.AddOptions<AutonomyOptions>().BindConfiguration(AutonomyOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<AutonomyOptions>, AutonomyOptionsValidator>();
        services.AddOptions<GraceClusterOptions>().BindConfiguration(GraceClusterOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<GraceClusterOptions>, GraceClusterOptionsValidator>();
        services.AddSingleton<GraceInstance>();
        services.AddSingleton<IValidateOptions<CatalogOptions>, CatalogValidator>();

        services.AddSingleton<IPipelineNotifier, PipelineNotifier>();
        services.AddSingleton<PathResolver>();
        services.AddSingleton<TargetRegistry>();
        services.AddResiliencePipeline("grace:default", b => b.AddTimeout(TimeSpan.FromSeconds(30)));
        services.AddResiliencePipeline(ExecuteStage.BookkeepingPipeline, ExecuteStage.AddBookkeepingPipeline);
        services.AddSingleton<TargetBreakers>();
        services.AddSingleton<ActionResilience>();
        services.Configure<Polly.Telemetry.TelemetryOptions>(o => o.SeverityProvider = ActionResilience.Severity);

        // Who did what: every audit entry goes through one service
        services.AddSingleton<Audit.AuditTrail>();

        // Capture
        services.AddSingleton<SignalIntake>();
        services.AddSingleton<ISignalSink>(sp => sp.GetRequiredService<SignalIntake>());
        services.AddSingleton<SignalRateTracker>();
        services.AddSingleton<CaptureCounters>();
        services.AddSingleton<CaptureMonitor>();
        services.AddSingleton<ApiKeyService>();
        services.AddHostedService<ApiKeyUsageWriter>();
        services.AddSingleton<ILogEventSink, GraceSerilogSink>();

        // What Grace acts on: the adapter modules, one call each (Adapters/)
        services.AddGraceAdapters();
        services.AddSingleton<TargetKinds>();
        services.AddSingleton<TargetPlacement>();
        services.AddOptions<Faults.FaultOptions>().BindConfiguration(Faults.FaultOptions.Section);
        services.AddSingleton<Faults.DemoService>();
        services.AddSingleton<Faults.FaultInjector>();
        services.AddSingleton<IProbe, IncidentSignalRateProbe>();
        services.AddSingleton<ExecutorCatalog>();
        services.AddSingleton<TargetHealth>();
        services.AddSingleton<ProbeReader>();
        services.AddSingleton<HealthChecker>();

        // Stages
        services.AddSingleton<Sentinel>();
        services.AddSingleton<MissionPlanner>();
        services.AddSingleton<KillSwitch>();
        services.AddSingleton<PlaybookTiers>();
        services.AddSingleton<PolicyGate>();
        services.AddSingleton<GateStage>();
        services.AddSingleton<Rollbacks>();
        services.AddSingleton<ExecuteStage>();
        services.AddSingleton<ConclusionStage>();
        services.AddSingleton<CompensationStage>();
        services.AddSingleton<Escalate.IncidentJournal>();
        services.AddSingleton<Escalate.EscalationLadder>();
        services.AddSingleton<Escalate.IncidentService>();
        services.AddSingleton<MissionDismissals>();
        services.AddSingleton<LearnStage>();
        services.AddSingleton<ApprovalService>();
        services.AddSingleton<SnapshotService>();
        services.AddSingleton<ContractVerifier>();
        services.AddSingleton<Verify.Benchmarks.LatencySampler>();
        services.AddSingleton<Verify.Benchmarks.BenchmarkStage>();
        services.AddSingleton<LearningService>();
        services.AddSingleton<Learn.Mining.PatternMiner>();
        services.AddSingleton<Learn.Mining.PatternMiningService>();
        services.AddHostedService(sp => sp.GetRequiredService<Learn.Mining.PatternMiningService>());
        services.AddSingleton<Learn.Mining.SuggestionService>();
        services.AddSingleton<TrustService>();
        services.AddSingleton<ShadowMode>();
        services.AddSingleton<VacuousContracts>();
        services.AddGraceNotifications();
        // Grace's own telemetry: the instruments live here, the exporters in Grace.Web (AddGraceTelemetry)
        services.AddMetrics();
        services.AddSingleton<Telemetry.TelemetrySnapshot>();
        services.AddSingleton<Telemetry.GraceMetrics>();
        services.AddSingleton<MissionJournal>();
        services.AddSingleton<MissionStallNotice>();
        services.AddSingleton<MissionQueries>();
        services.AddSingleton<Missions.Steps.PlannedStep>();
        services.AddSingleton<Missions.Steps.AwaitingApprovalStep>();
        services.AddSingleton<Missions.Steps.ApprovedStep>();
        services.AddSingleton<Missions.Steps.ExecutingStep>();
        services.AddSingleton<Missions.Steps.VerifyingStep>();
        services.AddSingleton<Missions.Steps.CompensatingStep>();
        services.AddSingleton<Missions.Steps.EndedStep>();
        services.AddSingleton<MissionTransitions>();
        services.AddSingleton<ConsoleQueries>();

        // Hosted loops (the missions themselves are grains: see AddGraceCluster)
        services.AddSingleton<PlanningService>();
        services.AddHostedService(sp => sp.GetRequiredService<PlanningService>());
        services.AddSingleton<CaptureService>();
        services.AddHostedService(sp => sp.GetRequiredService<CaptureService>());
        return services;
    }
}
