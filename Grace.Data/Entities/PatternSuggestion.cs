namespace Grace.Data.Entities;

/// <summary>
/// A pattern Grace proposes from incidents no configured pattern matched: a cluster of their
/// messages by template (see <c>Grace.Engine.Learn.Mining</c>). A Lead exports it into the catalog
/// or dismisses it; a dismissed suggestion stays dismissed across restarts and rebuilds.
/// </summary>
public class PatternSuggestion
{
    /// <summary>Longest proposed regex kept (a message of <see cref="ColumnLimits.Text"/> characters, escaped).</summary>
    public const int RegexMaxLength = 8192;

    /// <summary>The incident that started the cluster: a rebuild in first-seen order starts it again from the same one.</summary>
    public Guid Id { get; set; }

    /// <summary>The message template, with <c>&lt;*&gt;</c> where the messages differ.</summary>
    public required string Template { get; set; }

    /// <summary>The proposed <c>MessageRegex</c>: anchored, literal text escaped, variable parts non-greedy groups.</summary>
    public required string MessageRegex { get; set; }

    /// <summary>The most common source of the incidents.</summary>
    public required string Source { get; set; }

    /// <summary>True when every incident has that source (so the export can require it).</summary>
    public bool SourceShared { get; set; }

    /// <summary>The most common exception type, if any incident had one.</summary>
    public string? ExceptionType { get; set; }

    /// <summary>True when every incident has that exception type.</summary>
    public bool ExceptionTypeShared { get; set; }

    /// <summary>The lowest severity among the incidents: the exported pattern's <c>MinimumSeverity</c>, so it matches them all.</summary>
    public Severity MinimumSeverity { get; set; }

    public int IncidentCount { get; set; }

    public long SignalCount { get; set; }

    /// <summary>A few of the incidents' messages (JSON array), as evidence.</summary>
    public required string Samples { get; set; }

    /// <summary>Playbooks that healed similar incidents (JSON array of playbook, pattern, similarity, successes), best first.</summary>
    public required string CandidatePlaybooks { get; set; }

    public DateTimeOffset FirstSeenAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }

    public SuggestionStatus Status { get; set; }

    public string? DismissedBy { get; set; }

    public DateTimeOffset? DismissedAt { get; set; }

    public string? DismissReason { get; set; }
}
