using System.ComponentModel.DataAnnotations;
using Grace.Engine.Execute;

namespace Grace.Engine.Adapters;

/// <summary>Table names in maintenance statements (PostgreSQL, SQL Server): plain identifiers only, quoted.</summary>
public static class SqlIdentifiers
{
    public static bool IsIdentifier(string name) => name.Split('.') is { Length: <= 2 } parts
        && parts.All(p => p.Length is > 0 and <= 63 && (char.IsAsciiLetter(p[0]) || p[0] == '_') && p.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'));

    // Only plain identifiers pass validation; quoting them keeps case and keeps SQL out.
    public static string Quote(string name, char open = '"', char close = '"') => IsIdentifier(name)
        ? string.Join('.', name.Split('.').Select(p => $"{open}{p}{close}"))
        : throw new ActionRefusedException($"'{name}' is not a plain table name.");
}

/// <summary>The parameters of a maintenance action on one table (<c>Table</c>) or the whole database.</summary>
public sealed class TableParameters : IValidatableObject
{
    public string? Table { get; init; }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Table is { } table && !SqlIdentifiers.IsIdentifier(table))
        {
            yield return new ValidationResult($"'{table}' is not a plain table name (letters, digits, '_' and one optional schema '.').", [nameof(Table)]);
        }
    }
}

/// <summary>The parameters of <c>postgres.end-blockers</c> (and <c>sqlserver.end-blockers</c>).</summary>
public sealed class EndBlockersParameters
{
    /// <summary>How long a session must have kept others waiting before it counts as a blocker.</summary>
    [Range(0, 86_400, ErrorMessage = "must be a number of seconds, 0 or more.")]
    public double MinBlockedSeconds { get; init; } = 30;
}
