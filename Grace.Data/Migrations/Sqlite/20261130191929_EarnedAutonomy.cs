using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Grace.Data.Migrations.Sqlite
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
                type: "INTEGER",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<bool>(
                name: "Shadow",
                table: "Missions",
                type: "INTEGER",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<int>(
                name: "ShadowVerdict",
                table: "Missions",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<long>(
                name: "ShadowVerdictAt",
                table: "Missions",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "TierSuggestions",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    PlaybookKey = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    FromTier = table.Column<int>(type: "INTEGER", nullable: false),
                    ToTier = table.Column<int>(type: "INTEGER", nullable: false),
                    Runs = table.Column<int>(type: "INTEGER", nullable: false),
                    Successes = table.Column<int>(type: "INTEGER", nullable: false),
                    ShadowAgreements = table.Column<int>(type: "INTEGER", nullable: false),
                    LowerBound = table.Column<double>(type: "REAL", nullable: false),
                    RunsSinceRollback = table.Column<int>(type: "INTEGER", nullable: false),
                    LastRollbackAt = table.Column<long>(type: "INTEGER", nullable: true),
                    Status = table.Column<int>(type: "INTEGER", nullable: false),
                    CreatedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    DecidedBy = table.Column<string>(type: "TEXT", maxLength: 256, nullable: true),
                    DecidedAt = table.Column<long>(type: "INTEGER", nullable: true),
                    Reason = table.Column<string>(type: "TEXT", maxLength: 2048, nullable: true),
                    RevokedByMissionId = table.Column<Guid>(type: "TEXT", nullable: true),
                    RevokedAt = table.Column<long>(type: "INTEGER", nullable: true),
                    Version = table.Column<Guid>(type: "TEXT", nullable: false)
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
