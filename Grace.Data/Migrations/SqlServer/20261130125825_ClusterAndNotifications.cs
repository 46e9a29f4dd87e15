using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Grace.Data.Migrations.SqlServer
{
    /// <inheritdoc />
    public partial class ClusterAndNotifications : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "LeaseExpiresAt",
                table: "Missions");

            migrationBuilder.RenameColumn(
                name: "LeaseOwner",
                table: "Missions",
                newName: "Instance");

            migrationBuilder.AddColumn<Guid>(
                name: "IncidentId",
                table: "MissionEvents",
                type: "uniqueidentifier",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "HeldBackStarts",
                table: "Incidents",
                type: "int",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<string>(
                name: "OpenedBy",
                table: "Incidents",
                type: "nvarchar(256)",
                maxLength: 256,
                nullable: true);

            migrationBuilder.AddColumn<bool>(
                name: "PlanPending",
                table: "Incidents",
                type: "bit",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<int>(
                name: "Via",
                table: "ApprovalDecisions",
                type: "int",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.CreateTable(
                name: "ClusterMembers",
                columns: table => new
                {
                    ClusterId = table.Column<string>(type: "nvarchar(128)", maxLength: 128, nullable: false),
                    Address = table.Column<string>(type: "nvarchar(128)", maxLength: 128, nullable: false),
                    SiloName = table.Column<string>(type: "nvarchar(128)", maxLength: 128, nullable: false),
                    HostName = table.Column<string>(type: "nvarchar(256)", maxLength: 256, nullable: true),
                    Status = table.Column<int>(type: "int", nullable: false),
                    Etag = table.Column<string>(type: "nvarchar(64)", maxLength: 64, nullable: false),
                    StartedAt = table.Column<DateTimeOffset>(type: "datetimeoffset", nullable: false),
                    IAmAliveAt = table.Column<DateTimeOffset>(type: "datetimeoffset", nullable: false),
                    Entry = table.Column<string>(type: "nvarchar(max)", maxLength: 16384, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_ClusterMembers", x => new { x.ClusterId, x.Address });
                });

            migrationBuilder.CreateTable(
                name: "ClusterVersions",
                columns: table => new
                {
                    ClusterId = table.Column<string>(type: "nvarchar(128)", maxLength: 128, nullable: false),
                    Version = table.Column<int>(type: "int", nullable: false),
                    Etag = table.Column<string>(type: "nvarchar(64)", maxLength: 64, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_ClusterVersions", x => x.ClusterId);
                });

            migrationBuilder.CreateTable(
                name: "Notifications",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "uniqueidentifier", nullable: false),
                    Kind = table.Column<int>(type: "int", nullable: false),
                    Channel = table.Column<string>(type: "nvarchar(128)", maxLength: 128, nullable: false),
                    DedupKey = table.Column<string>(type: "nvarchar(256)", maxLength: 256, nullable: false),
                    MissionId = table.Column<Guid>(type: "uniqueidentifier", nullable: true),
                    IncidentId = table.Column<Guid>(type: "uniqueidentifier", nullable: true),
                    Payload = table.Column<string>(type: "nvarchar(max)", maxLength: 16384, nullable: false),
                    Status = table.Column<int>(type: "int", nullable: false),
                    Attempts = table.Column<int>(type: "int", nullable: false),
                    NextAttemptAt = table.Column<DateTimeOffset>(type: "datetimeoffset", nullable: false),
                    LastError = table.Column<string>(type: "nvarchar(2048)", maxLength: 2048, nullable: true),
                    LeaseOwner = table.Column<string>(type: "nvarchar(128)", maxLength: 128, nullable: true),
                    LeaseUntil = table.Column<DateTimeOffset>(type: "datetimeoffset", nullable: true),
                    ExternalId = table.Column<string>(type: "nvarchar(128)", maxLength: 128, nullable: true),
                    CreatedAt = table.Column<DateTimeOffset>(type: "datetimeoffset", nullable: false),
                    DeliveredAt = table.Column<DateTimeOffset>(type: "datetimeoffset", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_Notifications", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "TargetFences",
                columns: table => new
                {
                    Target = table.Column<string>(type: "nvarchar(128)", maxLength: 128, nullable: false),
                    LastMissionId = table.Column<Guid>(type: "uniqueidentifier", nullable: true),
                    LastIntentAt = table.Column<DateTimeOffset>(type: "datetimeoffset", nullable: true),
                    Version = table.Column<Guid>(type: "uniqueidentifier", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_TargetFences", x => x.Target);
                });

            migrationBuilder.CreateIndex(
                name: "IX_MissionEvents_IncidentId",
                table: "MissionEvents",
                column: "IncidentId");

            migrationBuilder.CreateIndex(
                name: "IX_Incidents_PlanPending",
                table: "Incidents",
                column: "PlanPending");

            migrationBuilder.CreateIndex(
                name: "IX_Notifications_CreatedAt",
                table: "Notifications",
                column: "CreatedAt");

            migrationBuilder.CreateIndex(
                name: "IX_Notifications_DedupKey",
                table: "Notifications",
                column: "DedupKey",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_Notifications_MissionId",
                table: "Notifications",
                column: "MissionId");

            migrationBuilder.CreateIndex(
                name: "IX_Notifications_Status_NextAttemptAt",
                table: "Notifications",
                columns: new[] { "Status", "NextAttemptAt" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "ClusterMembers");

            migrationBuilder.DropTable(
                name: "ClusterVersions");

            migrationBuilder.DropTable(
                name: "Notifications");

            migrationBuilder.DropTable(
                name: "TargetFences");

            migrationBuilder.DropIndex(
                name: "IX_MissionEvents_IncidentId",
                table: "MissionEvents");

            migrationBuilder.DropIndex(
                name: "IX_Incidents_PlanPending",
                table: "Incidents");

            migrationBuilder.DropColumn(
                name: "IncidentId",
                table: "MissionEvents");

            migrationBuilder.DropColumn(
                name: "HeldBackStarts",
                table: "Incidents");

            migrationBuilder.DropColumn(
                name: "OpenedBy",
                table: "Incidents");

            migrationBuilder.DropColumn(
                name: "PlanPending",
                table: "Incidents");

            migrationBuilder.DropColumn(
                name: "Via",
                table: "ApprovalDecisions");

            migrationBuilder.RenameColumn(
                name: "Instance",
                table: "Missions",
                newName: "LeaseOwner");

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "LeaseExpiresAt",
                table: "Missions",
                type: "datetimeoffset",
                nullable: true);
        }
    }
}
