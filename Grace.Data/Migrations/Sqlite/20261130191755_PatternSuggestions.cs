using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Grace.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class PatternSuggestions : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "PatternSuggestions",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    Template = table.Column<string>(type: "TEXT", maxLength: 2048, nullable: false),
                    MessageRegex = table.Column<string>(type: "TEXT", maxLength: 8192, nullable: false),
                    Source = table.Column<string>(type: "TEXT", maxLength: 256, nullable: false),
                    SourceShared = table.Column<bool>(type: "INTEGER", nullable: false),
                    ExceptionType = table.Column<string>(type: "TEXT", maxLength: 256, nullable: true),
                    ExceptionTypeShared = table.Column<bool>(type: "INTEGER", nullable: false),
                    MinimumSeverity = table.Column<int>(type: "INTEGER", nullable: false),
                    IncidentCount = table.Column<int>(type: "INTEGER", nullable: false),
                    SignalCount = table.Column<long>(type: "INTEGER", nullable: false),
                    Samples = table.Column<string>(type: "TEXT", maxLength: 8192, nullable: false),
                    CandidatePlaybooks = table.Column<string>(type: "TEXT", maxLength: 4096, nullable: false),
                    FirstSeenAt = table.Column<long>(type: "INTEGER", nullable: false),
                    UpdatedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    Status = table.Column<int>(type: "INTEGER", nullable: false),
                    DismissedBy = table.Column<string>(type: "TEXT", maxLength: 256, nullable: true),
                    DismissedAt = table.Column<long>(type: "INTEGER", nullable: true),
                    DismissReason = table.Column<string>(type: "TEXT", maxLength: 2048, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_PatternSuggestions", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_PatternSuggestions_Status_SignalCount",
                table: "PatternSuggestions",
                columns: new[] { "Status", "SignalCount" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "PatternSuggestions");
        }
    }
}
