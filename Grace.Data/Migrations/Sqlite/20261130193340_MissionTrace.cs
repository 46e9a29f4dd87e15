using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Grace.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class MissionTrace : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<long>(
                name: "StageStartedAt",
                table: "Missions",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "TraceParent",
                table: "Missions",
                type: "TEXT",
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
