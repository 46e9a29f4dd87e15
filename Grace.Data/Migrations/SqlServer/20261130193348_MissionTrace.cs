using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Grace.Data.Migrations.SqlServer
{
    /// <inheritdoc />
    public partial class MissionTrace : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "StageStartedAt",
                table: "Missions",
                type: "datetimeoffset",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "TraceParent",
                table: "Missions",
                type: "nvarchar(64)",
                maxLength: 64,
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "StageStartedAt",
                table: "Missions");

            migrationBuilder.DropColumn(
                name: "TraceParent",
                table: "Missions");
        }
    }
}
