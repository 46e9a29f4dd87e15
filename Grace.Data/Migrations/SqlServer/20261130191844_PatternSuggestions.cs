using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Grace.Data.Migrations.SqlServer
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
                    Id = table.Column<Guid>(type: "uniqueidentifier", nullable: false),
                    Template = table.Column<string>(type: "nvarchar(2048)", maxLength: 2048, nullable: false),
                    MessageRegex = table.Column<string>(type: "nvarchar(max)", maxLength: 8192, nullable: false),
                    Source = table.Column<string>(type: "nvarchar(256)", maxLength: 256, nullable: false),
                    SourceShared = table.Column<bool>(type: "bit", nullable: false),
                    ExceptionType = table.Column<string>(type: "nvarchar(256)", maxLength: 256, nullable: true),
                    ExceptionTypeShared = table.Column<bool>(type: "bit", nullable: false),
                    MinimumSeverity = table.Column<int>(type: "int", nullable: false),
                    IncidentCount = table.Column<int>(type: "int", nullable: false),
                    SignalCount = table.Column<long>(type: "bigint", nullable: false),
                    Samples = table.Column<string>(type: "nvarchar(max)", maxLength: 8192, nullable: false),
                    CandidatePlaybooks = table.Column<string>(type: "nvarchar(max)", maxLength: 4096, nullable: false),
                    FirstSeenAt = table.Column<DateTimeOffset>(type: "datetimeoffset", nullable: false),
                    UpdatedAt = table.Column<DateTimeOffset>(type: "datetimeoffset", nullable: false),
                    Status = table.Column<int>(type: "int", nullable: false),
                    DismissedBy = table.Column<string>(type: "nvarchar(256)", maxLength: 256, nullable: true),
                    DismissedAt = table.Column<DateTimeOffset>(type: "datetimeoffset", nullable: true),
                    DismissReason = table.Column<string>(type: "nvarchar(2048)", maxLength: 2048, nullable: true)
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
