using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Grace.Data.Migrations.SqlServer
{
    /// <inheritdoc />
    public partial class Escalation : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<int>(
                name: "StepIndex",
                table: "Snapshots",
                type: "int",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "ActSeconds",
                table: "Outcomes",
                type: "float",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "ApproveSeconds",
                table: "Outcomes",
                type: "float",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "DecideSeconds",
                table: "Outcomes",
                type: "float",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "DetectSeconds",
                table: "Outcomes",
                type: "float",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "FailedStep",
                table: "Outcomes",
                type: "nvarchar(160)",
                maxLength: 160,
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "VerifySeconds",
                table: "Outcomes",
                type: "float",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "Origin",
                table: "Missions",
                type: "int",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<int>(
                name: "StepCount",
                table: "Missions",
                type: "int",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<int>(
                name: "StepIndex",
                table: "Missions",
                type: "int",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "AcknowledgedAt",
                table: "Incidents",
                type: "datetimeoffset",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "AcknowledgedBy",
                table: "Incidents",
                type: "nvarchar(256)",
                maxLength: 256,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "AssignedTo",
                table: "Incidents",
                type: "nvarchar(256)",
                maxLength: 256,
                nullable: true);

            migrationBuilder.AddColumn<bool>(
                name: "AwaitingRecurrence",
                table: "Incidents",
                type: "bit",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<bool>(
                name: "NeedsHuman",
                table: "Incidents",
                type: "bit",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "NeedsHumanAt",
                table: "Incidents",
                type: "datetimeoffset",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "NeedsHumanReason",
                table: "Incidents",
                type: "nvarchar(2048)",
                maxLength: 2048,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "NextPlaybookKey",
                table: "Incidents",
                type: "nvarchar(128)",
                maxLength: 128,
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "OpenedAt",
                table: "Incidents",
                type: "datetimeoffset",
                nullable: false,
                defaultValue: new DateTimeOffset(new DateTime(1, 1, 1, 0, 0, 0, 0, DateTimeKind.Unspecified), new TimeSpan(0, 0, 0, 0, 0)));

            // Incidents stored before this migration: their current episode opened when they were first seen.
            migrationBuilder.Sql("UPDATE \"Incidents\" SET \"OpenedAt\" = \"FirstSeenAt\"");

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "RetryAt",
                table: "Incidents",
                type: "datetimeoffset",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "IncidentEvents",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("SqlServer:Identity", "1, 1"),
                    IncidentId = table.Column<Guid>(type: "uniqueidentifier", nullable: false),
                    At = table.Column<DateTimeOffset>(type: "datetimeoffset", nullable: false),
                    Kind = table.Column<int>(type: "int", nullable: false),
                    Actor = table.Column<string>(type: "nvarchar(256)", maxLength: 256, nullable: false),
                    Message = table.Column<string>(type: "nvarchar(max)", maxLength: 4096, nullable: false),
                    MissionId = table.Column<Guid>(type: "uniqueidentifier", nullable: true),
                    PlaybookKey = table.Column<string>(type: "nvarchar(128)", maxLength: 128, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_IncidentEvents", x => x.Id);
                    table.ForeignKey(
                        name: "FK_IncidentEvents_Incidents_IncidentId",
                        column: x => x.IncidentId,
                        principalTable: "Incidents",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "MissionSteps",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "uniqueidentifier", nullable: false),
                    MissionId = table.Column<Guid>(type: "uniqueidentifier", nullable: false),
                    Index = table.Column<int>(type: "int", nullable: false),
                    Name = table.Column<string>(type: "nvarchar(128)", maxLength: 128, nullable: false),
                    Action = table.Column<string>(type: "nvarchar(128)", maxLength: 128, nullable: false),
                    Target = table.Column<string>(type: "nvarchar(128)", maxLength: 128, nullable: false),
                    Parameters = table.Column<string>(type: "nvarchar(max)", maxLength: 8192, nullable: false),
                    Probe = table.Column<string>(type: "nvarchar(128)", maxLength: 128, nullable: false),
                    ProbeTarget = table.Column<string>(type: "nvarchar(128)", maxLength: 128, nullable: false),
                    ProbeParameters = table.Column<string>(type: "nvarchar(max)", maxLength: 4096, nullable: true),
                    Comparator = table.Column<int>(type: "int", nullable: false),
                    Threshold = table.Column<double>(type: "float", nullable: false),
                    DeadlineSeconds = table.Column<int>(type: "int", nullable: false),
                    State = table.Column<int>(type: "int", nullable: false),
                    StartedAt = table.Column<DateTimeOffset>(type: "datetimeoffset", nullable: true),
                    EndedAt = table.Column<DateTimeOffset>(type: "datetimeoffset", nullable: true),
                    ObservedValue = table.Column<double>(type: "float", nullable: true),
                    Message = table.Column<string>(type: "nvarchar(2048)", maxLength: 2048, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_MissionSteps", x => x.Id);
                    table.ForeignKey(
                        name: "FK_MissionSteps_Missions_MissionId",
                        column: x => x.MissionId,
                        principalTable: "Missions",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_Incidents_RetryAt",
                table: "Incidents",
                column: "RetryAt");

            migrationBuilder.CreateIndex(
                name: "IX_IncidentEvents_IncidentId_Id",
                table: "IncidentEvents",
                columns: new[] { "IncidentId", "Id" });

            migrationBuilder.CreateIndex(
                name: "IX_MissionSteps_MissionId_Index",
                table: "MissionSteps",
                columns: new[] { "MissionId", "Index" },
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "IncidentEvents");

            migrationBuilder.DropTable(
                name: "MissionSteps");

            migrationBuilder.DropIndex(
                name: "IX_Incidents_RetryAt",
                table: "Incidents");

            migrationBuilder.DropColumn(
                name: "StepIndex",
                table: "Snapshots");

            migrationBuilder.DropColumn(
                name: "ActSeconds",
                table: "Outcomes");

            migrationBuilder.DropColumn(
                name: "ApproveSeconds",
                table: "Outcomes");

            migrationBuilder.DropColumn(
                name: "DecideSeconds",
                table: "Outcomes");

            migrationBuilder.DropColumn(
                name: "DetectSeconds",
                table: "Outcomes");

            migrationBuilder.DropColumn(
                name: "FailedStep",
                table: "Outcomes");

            migrationBuilder.DropColumn(
                name: "VerifySeconds",
                table: "Outcomes");

            migrationBuilder.DropColumn(
                name: "Origin",
                table: "Missions");

            migrationBuilder.DropColumn(
                name: "StepCount",
                table: "Missions");

            migrationBuilder.DropColumn(
                name: "StepIndex",
                table: "Missions");

            migrationBuilder.DropColumn(
                name: "AcknowledgedAt",
                table: "Incidents");

            migrationBuilder.DropColumn(
                name: "AcknowledgedBy",
                table: "Incidents");

            migrationBuilder.DropColumn(
                name: "AssignedTo",
                table: "Incidents");

            migrationBuilder.DropColumn(
                name: "AwaitingRecurrence",
                table: "Incidents");

            migrationBuilder.DropColumn(
                name: "NeedsHuman",
                table: "Incidents");

            migrationBuilder.DropColumn(
                name: "NeedsHumanAt",
                table: "Incidents");

            migrationBuilder.DropColumn(
                name: "NeedsHumanReason",
                table: "Incidents");

            migrationBuilder.DropColumn(
                name: "NextPlaybookKey",
                table: "Incidents");

            migrationBuilder.DropColumn(
                name: "OpenedAt",
                table: "Incidents");

            migrationBuilder.DropColumn(
                name: "RetryAt",
                table: "Incidents");
        }
    }
}
