using Grace.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.DependencyInjection;

namespace Grace.Tests.Infrastructure;

/// <summary>
/// Wraps Grace's context factory in a test host so that every context it makes reports its saves to a handler
/// (to count what a save holds, make two saves meet, or fail one on purpose).
/// </summary>
public static class SavingHook
{
    public static void Install(IServiceCollection services, EventHandler<SavingChangesEventArgs> onSaving)
    {
        var registered = services.Last(d => d.ServiceType == typeof(IDbContextFactory<GraceDbContext>));
        services.Remove(registered);
        services.AddSingleton<IDbContextFactory<GraceDbContext>>(sp => new Hooked((IDbContextFactory<GraceDbContext>)registered.ImplementationFactory!(sp), onSaving));
    }

    private sealed class Hooked(IDbContextFactory<GraceDbContext> inner, EventHandler<SavingChangesEventArgs> onSaving) : IDbContextFactory<GraceDbContext>
    {
        public GraceDbContext CreateDbContext()
        {
            var db = inner.CreateDbContext();
            db.SavingChanges += onSaving;
            return db;
        }
    }
}
