namespace Grace.Data.Entities;

/// <summary>An append-only line of a mission's timeline.</summary>
public class MissionEvent
{
    public long Id { get; set; }
    public Guid MissionId { get; set; }
    public PipelineStage Stage { get; set; }
    /// <summary>Short machine-readable kind: "intent", "executed", "probe", "state", ...</summary>
    public required string Kind { get; set; }
    public DateTimeOffset At { get; set; }
    /// <summary>"engine" or the user name of the person who acted.</summary>
    public required string Actor { get; set; }
    public required string Message { get; set; }
    /// <summary>Evidence as JSON (probe readings, action output).</summary>
    public string? Data { get; set; }
    /// <summary>Another incident this line links to the mission (one the mission covers), as a column so it can be joined.</summary>
    public Guid? IncidentId { get; set; }
}
