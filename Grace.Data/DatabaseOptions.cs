using System.ComponentModel.DataAnnotations;

namespace Grace.Data;

/// <summary>Which database Grace keeps its truth in (<c>Grace:Database</c>).</summary>
public sealed class DatabaseOptions
{
    public const string Section = "Grace:Database";

    /// <summary>Sqlite (embedded default), SqlServer or Postgres.</summary>
    [Required(ErrorMessage = "Grace:Database:Provider is required.")]
    public DatabaseProvider Provider { get; set; } = DatabaseProvider.Sqlite;

    /// <summary>
    /// Connection string. For SQLite it may be empty: Grace then uses <c>grace.db</c> in <see cref="DataDirectory"/>.
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>Folder for the embedded database, relative to the content root unless absolute.</summary>
    [Required(ErrorMessage = "Grace:Database:DataDirectory is required.")]
    public string DataDirectory { get; set; } = "data";

    /// <summary>Apply pending migrations at start.</summary>
    public bool MigrateOnStart { get; set; } = true;

    /// <summary>SQLite busy timeout: how long a writer waits for another writer before failing.</summary>
    [Range(100, 120_000, ErrorMessage = "Grace:Database:SqliteBusyTimeoutMilliseconds must be between {1} and {2}.")]
    public int SqliteBusyTimeoutMilliseconds { get; set; } = 5000;

    /// <summary>Command timeout for every provider.</summary>
    [Range(1, 600, ErrorMessage = "Grace:Database:CommandTimeoutSeconds must be between {1} and {2}.")]
    public int CommandTimeoutSeconds { get; set; } = 30;
}

public enum DatabaseProvider
{
    Sqlite,
    SqlServer,
    Postgres,
}
