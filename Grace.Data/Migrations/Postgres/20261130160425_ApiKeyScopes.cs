using System;
using System.Collections.Generic;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Grace.Data.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class ApiKeyScopes : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<List<string>>(
                name: "AllowedPatterns",
                table: "ApiKeys",
                type: "text[]",
                nullable: false,
                defaultValueSql: "'{}'::text[]"); // existing keys get no limits

            migrationBuilder.AddColumn<List<string>>(
                name: "AllowedSources",
                table: "ApiKeys",
                type: "text[]",
                nullable: false,
                defaultValueSql: "'{}'::text[]"); // existing keys get no limits

            migrationBuilder.AddColumn<List<string>>(
                name: "AllowedTargets",
                table: "ApiKeys",
                type: "text[]",
                nullable: false,
                defaultValueSql: "'{}'::text[]"); // existing keys get no limits

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "LastUsedAt",
                table: "ApiKeys",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "Scopes",
                table: "ApiKeys",
                type: "integer",
                nullable: false,
                defaultValue: 7); // ApiKeyScopes.Ingest: keys made before scopes keep every ingestion scope, so their senders keep working.
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "AllowedPatterns",
                table: "ApiKeys");

            migrationBuilder.DropColumn(
                name: "AllowedSources",
                table: "ApiKeys");

            migrationBuilder.DropColumn(
                name: "AllowedTargets",
                table: "ApiKeys");

            migrationBuilder.DropColumn(
                name: "LastUsedAt",
                table: "ApiKeys");

            migrationBuilder.DropColumn(
                name: "Scopes",
                table: "ApiKeys");
        }
    }
}
