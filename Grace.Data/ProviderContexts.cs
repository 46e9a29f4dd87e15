using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace Grace.Data;

/// <summary>The embedded default: one SQLite file.</summary>
public sealed class SqliteGraceDbContext : GraceDbContext
{
    public SqliteGraceDbContext(DbContextOptions<SqliteGraceDbContext> options)
        : base(options)
    {
        // Every SaveChanges in a transaction, even a one-statement one: a transaction takes its turn at
        // Grace's write gate, where a bare statement would poll SQLite's busy handler (SqliteWriteGate).
        Database.AutoTransactionBehavior = AutoTransactionBehavior.Always;
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
