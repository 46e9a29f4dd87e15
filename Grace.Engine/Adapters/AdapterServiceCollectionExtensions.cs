using Grace.Engine.Adapters.Aws;
using Grace.Engine.Adapters.Breakers;
using Grace.Engine.Adapters.Containers;
using Grace.Engine.Adapters.Directories;
using Grace.Engine.Adapters.FeatureFlags;
using Grace.Engine.Adapters.Grace;
using Grace.Engine.Adapters.Http;
using Grace.Engine.Adapters.Kubernetes;
using Grace.Engine.Adapters.Logging;
using Grace.Engine.Adapters.Postgres;
using Grace.Engine.Adapters.Processes;
using Grace.Engine.Adapters.Sqlite;
using Grace.Engine.Adapters.SqlServer;
using Grace.Engine.Adapters.Ssh;
using Grace.Engine.Adapters.Unleash;
using Microsoft.Extensions.DependencyInjection;

namespace Grace.Engine.Adapters;

public static class AdapterServiceCollectionExtensions
{
    /// <summary>
    /// The adapter modules Grace ships: each registers its kind, its actions and probes, its
    /// benchmark kinds and its services with one call. The engine itself names none of them; this
    /// list is the one place a new module is added.
    /// </summary>
    public static IServiceCollection AddGraceAdapters(this IServiceCollection services) => services
        .AddGraceTargets()
        .AddLoggingActions()
        .AddFeatureFlagActions()
        .AddBreakerActions()
        .AddSqliteTargets()
        .AddDirectoryTargets()
        .AddHttpTargets()
        .AddPostgresTargets()
        .AddSqlServerTargets()
        .AddProcessTargets()
        .AddContainerTargets()
        .AddSshTargets()
        .AddKubernetesTargets()
        .AddAwsTargets()
        .AddUnleashTargets();
}
