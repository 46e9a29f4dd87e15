namespace Grace.Engine.Capture;

/// <summary>The capture stage's own figures: nothing dropped goes unseen.</summary>
public sealed record CaptureStatistics(long Accepted, long Dropped, int Buffered, int Capacity, long Processed, long Failed, long StormSuppressed);

/// <summary>Reads the figures of the intake, the capture loop and storm control.</summary>
public sealed class CaptureMonitor(SignalIntake intake, CaptureService capture, StormGuard storms)
{
    public CaptureStatistics Read() => new(intake.Accepted, intake.Dropped, intake.Buffered, intake.Capacity, capture.Processed, capture.Failed, storms.Suppressed);
}
