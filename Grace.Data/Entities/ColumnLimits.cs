namespace Grace.Data.Entities;

/// <summary>
/// Column sizes, named once and used by both the model (<c>HasMaxLength</c>) and the code that
/// validates or shortens what goes into a column, so a value that passes validation always fits.
/// Changing one changes the schema: add a migration for each provider.
/// </summary>
public static class ColumnLimits
{
    /// <summary>A person's user name, or who acted ("engine", "key:alertmanager").</summary>
    public const int UserName = 256;

    /// <summary>A catalog key: pattern, playbook, target, action, probe, runbook step, setting.</summary>
    public const int Key = 128;

    /// <summary>A reason, a comment, a short status text.</summary>
    public const int ShortText = 2048;

    /// <summary>A message or detail: sample messages, timeline lines, audit details.</summary>
    public const int Text = 4096;

    /// <summary>A signal's source.</summary>
    public const int Source = 256;

    /// <summary>An exception type name.</summary>
    public const int ExceptionType = 256;

    /// <summary>A message template (the fingerprinted shape of a message).</summary>
    public const int Template = 2048;

    /// <summary>Labels, as JSON.</summary>
    public const int Labels = 4096;

    /// <summary>An action's parameters, as JSON.</summary>
    public const int Parameters = 8192;

    /// <summary>A probe's parameters, as JSON.</summary>
    public const int ProbeParameters = 4096;

    /// <summary>A contract's description.</summary>
    public const int Description = 1024;

    /// <summary>An audit entry's action ("mission.approve").</summary>
    public const int AuditAction = 128;

    /// <summary>What an audit entry is about ("mission/{id}", "user/alice").</summary>
    public const int AuditSubject = 256;

    /// <summary>A client address, IPv6 included.</summary>
    public const int RemoteAddress = 64;

    /// <summary>An API key's name (what uses it).</summary>
    public const int ApiKeyName = 128;

    public const int InstanceName = 128;
    public const int ClusterId = 128;
    public const int SiloAddress = 128;
    public const int MembershipEntry = 16384;

    /// <summary>Cuts <paramref name="text"/> to <paramref name="limit"/> characters, marking the cut with an ellipsis.</summary>
    public static string Shorten(string text, int limit) => text.Length <= limit ? text : text[..(limit - 1)] + "…";
}
