using System.Runtime.InteropServices;

namespace Grace.Benchmarks.Harness;

/// <summary>
/// An interrupted run (Ctrl+C, SIGTERM, SIGQUIT) stops every Grace it started and drops its
/// databases before it exits. The recording target's host would otherwise take SIGTERM for itself
/// (the generic host's console lifetime stops only that host), and the run would go on without it.
/// </summary>
internal static class Interruption
{
    private static readonly List<PosixSignalRegistration> Registrations = [];

    public static void StopEverythingOnSignals()
    {
        foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGQUIT })
        {
            Registrations.Add(PosixSignalRegistration.Create(signal, context =>
            {
                context.Cancel = true;
                Console.Error.WriteLine($"{context.Signal}: stopping every Grace this run started and dropping its databases.");
                GraceProcess.KillAll();
                BenchDatabase.DropLeftovers();
                Environment.Exit(context.Signal == PosixSignal.SIGINT ? 130 : 143);
            }));
        }
    }
}
