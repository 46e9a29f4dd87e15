using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace Grace.Data;

/// <summary>The embedded default: one SQLite file.</summary>
public sealed class SqliteGraceDbContext : GraceDbContext
{
    public SqliteGraceDbContext(DbContextOptions<SqliteGraceDbContext> options)
        : base(options)
    {
        Lease(this);
    }

    /// <summary>
    /// Prepares a context for its user, when it is made and on every lease from the context pool (ADR 0040),
    /// which resets what a context set on itself but may hand it out with its connection still open.
    /// </summary>
    internal static void Lease(SqliteGraceDbContext db)
    {
        // Every SaveChanges in a transaction, even a one-statement one: a transaction takes its turn at
        // Grace's write gate, where a bare statement would poll SQLite's busy handler (SqliteWriteGate).
        db.Database.AutoTransactionBehavior = AutoTransactionBehavior.Always;

        // A connection a previous lease opened and relaxed (SqliteDurability.FlushWithNextCommitAsync) is not
        // opened again, so the interceptor that makes every opened connection flush its commits would not run:
        // an intent could then commit without its flush. Made fully durable here instead.
        SqliteDurability.FlushEveryCommit(db);
    }

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        // SQLite cannot order or compare DateTimeOffset stored as text; as binary (UTC ticks + offset) it can.
        configurationBuilder.Properties<DateTimeOffset>().HaveConversion<DateTimeOffsetToBinaryConverter>();
        configurationBuilder.Properties<DateTimeOffset?>().HaveConversion<DateTimeOffsetToBinaryConverter>();
    }
}

/// <summary>SQL Server, the production database the users asked for.</summary>
public sealed class SqlServerGraceDbContext(DbContextOptions<SqlServerGraceDbContext> options) : GraceDbContext(options);

/// <summary>PostgreSQL, the second production server.</summary>
public sealed class PostgresGraceDbContext(DbContextOptions<PostgresGraceDbContext> options) : GraceDbContext(options);
