using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Grace.Data.Migrations.Postgres
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
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    Template = table.Column<string>(type: "character varying(2048)", maxLength: 2048, nullable: false),
                    MessageRegex = table.Column<string>(type: "character varying(8192)", maxLength: 8192, nullable: false),
                    Source = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false),
                    SourceShared = table.Column<bool>(type: "boolean", nullable: false),
                    ExceptionType = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: true),
                    ExceptionTypeShared = table.Column<bool>(type: "boolean", nullable: false),
                    MinimumSeverity = table.Column<int>(type: "integer", nullable: false),
                    IncidentCount = table.Column<int>(type: "integer", nullable: false),
                    SignalCount = table.Column<long>(type: "bigint", nullable: false),
                    Samples = table.Column<string>(type: "character varying(8192)", maxLength: 8192, nullable: false),
                    CandidatePlaybooks = table.Column<string>(type: "character varying(4096)", maxLength: 4096, nullable: false),
                    FirstSeenAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    UpdatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    Status = table.Column<int>(type: "integer", nullable: false),
                    DismissedBy = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: true),
                    DismissedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    DismissReason = table.Column<string>(type: "character varying(2048)", maxLength: 2048, nullable: true)
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
