using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Verify;
using Microsoft.Extensions.DependencyInjection;

namespace Grace.Engine.Adapters.Ssh;

public static class SshServiceCollectionExtensions
{
    /// <summary>
    /// The Host target kind: remote hosts over SSH with a pinned host key. Its action
    /// <c>ssh.run</c> and probe <c>ssh.read</c> run only commands declared on the target, with typed,
    /// quoted parameters; and the checks of its settings.
    /// </summary>
    public static IServiceCollection AddSshTargets(this IServiceCollection services)
    {
        services.AddSingleton<ITargetKindAdapter, HostKind>();
        services.AddSingleton<SshSessions>();
        services.AddSingleton<IRemediationExecutor, SshRunAction>();
        services.AddSingleton<IProbe, SshReadProbe>();
        services.AddSingleton<Microsoft.Extensions.Options.IValidateOptions<CatalogOptions>, SshReadUses>();
        return services;
    }
}
