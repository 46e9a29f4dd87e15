using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Grace.Data;

// Used only by `dotnet ef migrations add`: each provider's migrations are generated from its own
// context type. The connection strings are placeholders; migrations do not connect.

internal sealed class SqliteDesignTimeFactory : IDesignTimeDbContextFactory<SqliteGraceDbContext>
{
    public SqliteGraceDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<SqliteGraceDbContext>().UseSqlite("Data Source=design.db").Options);
}

internal sealed class SqlServerDesignTimeFactory : IDesignTimeDbContextFactory<SqlServerGraceDbContext>
{
    public SqlServerGraceDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<SqlServerGraceDbContext>().UseSqlServer("Server=.;Database=grace;Trusted_Connection=True").Options);
}

internal sealed class PostgresDesignTimeFactory : IDesignTimeDbContextFactory<PostgresGraceDbContext>
{
    public PostgresGraceDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<PostgresGraceDbContext>().UseNpgsql("Host=localhost;Database=grace").Options);
}
