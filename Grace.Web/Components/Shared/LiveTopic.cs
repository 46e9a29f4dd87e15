namespace Grace.Web.Components.Shared;

/// <summary>What a page rendered per request follows live (<see cref="LiveRefresh"/>): the events that make its table stale.</summary>
public enum LiveTopic
{
    /// <summary>Nothing on the page changes by itself (the audit log); only the shell's figures stay live.</summary>
    None,

    /// <summary>Incidents: an incident counted, opened, resolved or its timeline added to.</summary>
    Incidents,

    /// <summary>Missions: a mission started, moved on or ended.</summary>
    Missions,

    /// <summary>Learning's statistics and trust table: a mission ended and its playbook's figures moved, or a shadow run was recorded.</summary>
    Statistics,
}
