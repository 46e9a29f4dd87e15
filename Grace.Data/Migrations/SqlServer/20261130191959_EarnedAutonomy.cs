using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Grace.Data.Migrations.SqlServer
{
    /// <inheritdoc />
    public partial class EarnedAutonomy : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<int>(
                name: "ContractAtPlan",
                table: "Missions",
                type: "int",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<bool>(
                name: "Shadow",
                table: "Missions",
                type: "bit",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<int>(
                name: "ShadowVerdict",
                table: "Missions",
                type: "int",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "ShadowVerdictAt",
                table: "Missions",
                type: "datetimeoffset",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "TierSuggestions",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "uniqueidentifier", nullable: false),
                    PlaybookKey = table.Column<string>(type: "nvarchar(128)", maxLength: 128, nullable: false),
                    FromTier = table.Column<int>(type: "int", nullable: false),
                    ToTier = table.Column<int>(type: "int", nullable: false),
                    Runs = table.Column<int>(type: "int", nullable: false),
                    Successes = table.Column<int>(type: "int", nullable: false),
                    ShadowAgreements = table.Column<int>(type: "int", nullable: false),
                    LowerBound = table.Column<double>(type: "float", nullable: false),
                    RunsSinceRollback = table.Column<int>(type: "int", nullable: false),
                    LastRollbackAt = table.Column<DateTimeOffset>(type: "datetimeoffset", nullable: true),
                    Status = table.Column<int>(type: "int", nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "datetimeoffset", nullable: false),
                    DecidedBy = table.Column<string>(type: "nvarchar(256)", maxLength: 256, nullable: true),
                    DecidedAt = table.Column<DateTimeOffset>(type: "datetimeoffset", nullable: true),
                    Reason = table.Column<string>(type: "nvarchar(2048)", maxLength: 2048, nullable: true),
                    RevokedByMissionId = table.Column<Guid>(type: "uniqueidentifier", nullable: true),
                    RevokedAt = table.Column<DateTimeOffset>(type: "datetimeoffset", nullable: true),
                    Version = table.Column<Guid>(type: "uniqueidentifier", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_TierSuggestions", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_Missions_ShadowVerdict",
                table: "Missions",
                column: "ShadowVerdict");

            migrationBuilder.CreateIndex(
                name: "IX_TierSuggestions_PlaybookKey_Status",
                table: "TierSuggestions",
                columns: new[] { "PlaybookKey", "Status" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "TierSuggestions");

            migrationBuilder.DropIndex(
                name: "IX_Missions_ShadowVerdict",
                table: "Missions");

            migrationBuilder.DropColumn(
                name: "ContractAtPlan",
                table: "Missions");

            migrationBuilder.DropColumn(
                name: "Shadow",
                table: "Missions");

            migrationBuilder.DropColumn(
                name: "ShadowVerdict",
                table: "Missions");

            migrationBuilder.DropColumn(
                name: "ShadowVerdictAt",
                table: "Missions");
        }
    }
}
