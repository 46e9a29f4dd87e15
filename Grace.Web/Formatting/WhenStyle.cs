namespace Grace.Web.Formatting;

/// <summary>How a shown time reads.</summary>
public enum WhenStyle
{
    /// <summary>"14:03:12" today, "Nov 29, 14:03" this year, "2025-11-29 14:03" before.</summary>
    Compact = 0,
    /// <summary>"2026-11-30 14:03:12".</summary>
    Full = 1,
    /// <summary>"14:03:12.045", for timelines.</summary>
    Precise = 2,
    /// <summary>"5 min ago".</summary>
    Relative = 3,
    /// <summary>"14:03:12 (5 min ago)".</summary>
    ShortAndRelative = 4,
}
