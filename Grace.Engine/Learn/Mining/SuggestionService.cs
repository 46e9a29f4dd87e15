using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Audit;
using Grace.Engine.Configuration;
using Grace.Engine.Missions;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Learn.Mining;

/// <summary>A suggested pattern as the page and the API show it.</summary>
public sealed record SuggestionView(
    Guid Id, string Template, string MessageRegex, string Source, bool SourceShared, string? ExceptionType, bool ExceptionTypeShared,
    Severity MinimumSeverity, int IncidentCount, long SignalCount, IReadOnlyList<string> Samples, IReadOnlyList<CandidatePlaybook> Candidates,
    DateTimeOffset FirstSeenAt, DateTimeOffset UpdatedAt, SuggestionStatus Status, string? DismissedBy, DateTimeOffset? DismissedAt, string? DismissReason,
    string SuggestedKey);

/// <summary>An exported suggestion: the pattern's key and the JSON to merge into <c>appsettings.json</c>.</summary>
public sealed record SuggestionExport(string Key, string Json)
{
    /// <summary>True when <paramref name="regex"/> matches <paramref name="message"/> the way the sentinel tries it (ignoring case, bounded).</summary>
    public static bool RegexMatches(string regex, string message)
    {
        try
        {
            return Regex.IsMatch(message, regex, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100));
        }
        catch (Exception ex) when (ex is ArgumentException or RegexMatchTimeoutException)
        {
            return false;
        }
    }
}

/// <summary>
/// What Leads do with suggested patterns: read them, export one as a catalog entry (the shape of
/// <c>Grace:Patterns</c>, checked against the configured playbooks), or dismiss it. Both acts need
/// the Lead or Admin role and are audited.
/// </summary>
public sealed partial class SuggestionService(IDbContextFactory<GraceDbContext> dbFactory, IOptionsMonitor<CatalogOptions> catalog, AuditTrail audit, TimeProvider time)
{
    /// <summary>Suggestions, most signals first; dismissed ones only when asked.</summary>
    public async Task<IReadOnlyList<SuggestionView>> ListAsync(bool includeDismissed, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var query = db.PatternSuggestions.AsNoTracking();
        if (!includeDismissed)
        {
            query = query.Where(p => p.Status == SuggestionStatus.Suggested);
        }

        var rows = await query.OrderByDescending(p => p.SignalCount).ThenByDescending(p => p.IncidentCount).ThenBy(p => p.Id).Take(500).ToListAsync(cancellationToken);
        return rows.Select(ViewOf).ToList();
    }

    /// <summary>One suggestion, or null.</summary>
    public async Task<SuggestionView?> FindAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return await db.PatternSuggestions.AsNoTracking().SingleOrDefaultAsync(p => p.Id == id, cancellationToken) is { } row ? ViewOf(row) : null;
    }

    /// <summary>
    /// The catalog entry for a suggestion: <c>{"Grace":{"Patterns":{key:{...}}}}</c>. The playbook is
    /// the one given, or the best candidate; one of them must be a configured playbook, since a
    /// pattern without one fails the catalog's validation. The key is the one given or a name made
    /// from the template, and must not be a configured pattern already.
    /// </summary>
    public async Task<SuggestionExport> ExportAsync(Guid id, string? key, string? playbook, Actor actor, CancellationToken cancellationToken)
    {
        Require(actor);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var row = await db.PatternSuggestions.SingleOrDefaultAsync(p => p.Id == id, cancellationToken)
            ?? throw new MissionOperationException($"Suggested pattern {id} does not exist.", notFound: true);
        var view = ViewOf(row);
        var current = catalog.CurrentValue;
        key = string.IsNullOrWhiteSpace(key) ? view.SuggestedKey : key.Trim();
        if (!KeyShape().IsMatch(key))
        {
            throw new MissionOperationException($"Pattern key '{key}' must be 1 to {ColumnLimits.Key} letters, digits, '-', '_' or '.'.", field: "key");
        }

        if (current.Patterns.ContainsKey(key))
        {
            throw new MissionOperationException($"Pattern '{key}' is already configured under Grace:Patterns; choose another key.", field: "key");
        }

        var chosen = string.IsNullOrWhiteSpace(playbook)
            ? view.Candidates.Select(c => c.Playbook).FirstOrDefault(current.Playbooks.ContainsKey)
            : playbook.Trim();
        if (chosen is null)
        {
            throw new MissionOperationException("No playbook healed incidents like these yet: name one of Grace:Playbooks for the pattern.", field: "playbook");
        }

        if (!current.Playbooks.ContainsKey(chosen))
        {
            throw new MissionOperationException($"Playbook '{chosen}' is not defined under Grace:Playbooks.", field: "playbook");
        }

        var entry = new JsonObject
        {
            ["Description"] = ColumnLimits.Shorten($"Suggested by Grace from {view.IncidentCount} incidents ({view.SignalCount} signals): {view.Template}", 500),
            ["MessageRegex"] = view.MessageRegex,
        };
        if (view.SourceShared)
        {
            entry["Source"] = view.Source;
        }

        if (view.ExceptionTypeShared && view.ExceptionType is { } type)
        {
            entry["ExceptionType"] = type;
        }

        entry["MinimumSeverity"] = view.MinimumSeverity.ToString();
        entry["Playbooks"] = new JsonArray(chosen);
        var json = new JsonObject { ["Grace"] = new JsonObject { ["Patterns"] = new JsonObject { [key] = entry } } }
            .ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        audit.Add(db, actor, "pattern-suggestion.export", $"suggestion {id}", $"Exported as pattern '{key}' with playbook '{chosen}': {view.MessageRegex}");
        await db.SaveChangesAsync(cancellationToken);
        return new SuggestionExport(key, json);
    }

    /// <summary>Hides a suggestion for good (a rebuild keeps it dismissed), with the reason, audited.</summary>
    public async Task DismissAsync(Guid id, string? reason, Actor actor, CancellationToken cancellationToken)
    {
        Require(actor);
        if (string.IsNullOrWhiteSpace(reason))
        {
            throw new MissionOperationException("Dismissing a suggestion needs a reason.", field: "reason");
        }

        if (reason.Length > ColumnLimits.ShortText)
        {
            throw new MissionOperationException($"The reason is longer than {ColumnLimits.ShortText} characters.", field: "reason");
        }

        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var row = await db.PatternSuggestions.SingleOrDefaultAsync(p => p.Id == id, cancellationToken)
            ?? throw new MissionOperationException($"Suggested pattern {id} does not exist.", notFound: true);
        if (row.Status == SuggestionStatus.Dismissed)
        {
            throw new MissionOperationException($"Suggested pattern {id} was already dismissed by {row.DismissedBy}.");
        }

        row.Status = SuggestionStatus.Dismissed;
        row.DismissedBy = ColumnLimits.Shorten(actor.Name, ColumnLimits.UserName);
        row.DismissedAt = time.GetUtcNow();
        row.DismissReason = reason.Trim();
        audit.Add(db, actor, "pattern-suggestion.dismiss", $"suggestion {id}", $"{reason.Trim()} (template: {row.Template})");
        await db.SaveChangesAsync(cancellationToken);
    }

    private static void Require(Actor actor)
    {
        if (!actor.CanChangePolicy)
        {
            throw new MissionOperationException($"{actor.Name} may not export or dismiss suggested patterns: it needs the Lead or Admin role.", forbidden: true);
        }
    }

    private static SuggestionView ViewOf(PatternSuggestion row) => new(
        row.Id, row.Template, row.MessageRegex, row.Source, row.SourceShared, row.ExceptionType, row.ExceptionTypeShared, row.MinimumSeverity,
        row.IncidentCount, row.SignalCount,
        JsonSerializer.Deserialize<List<string>>(row.Samples) ?? [],
        JsonSerializer.Deserialize<List<CandidatePlaybook>>(row.CandidatePlaybooks) ?? [],
        row.FirstSeenAt, row.UpdatedAt, row.Status, row.DismissedBy, row.DismissedAt, row.DismissReason, KeyFor(row));

    /// <summary>"suggested-connection-refused-to": the template's first words, lower case.</summary>
    private static string KeyFor(PatternSuggestion row)
    {
        var words = row.Template.Split(' ')
            .Where(t => !t.Contains(TemplateMiner.Wildcard, StringComparison.Ordinal))
            .Select(t => new string(t.Where(char.IsLetterOrDigit).ToArray()).ToLowerInvariant())
            .Where(w => w.Length > 0)
            .Take(4);
        var slug = string.Join('-', words);
        return "suggested-" + (slug.Length > 0 ? slug : row.Id.ToString("N")[..8]);
    }

    [GeneratedRegex(@"^[A-Za-z0-9_.-]{1,128}$", RegexOptions.CultureInvariant)]
    private static partial Regex KeyShape();
}
