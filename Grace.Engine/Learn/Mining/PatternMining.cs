using System.Text.Json;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Configuration;
using Grace.Engine.Diagnose;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Learn.Mining;

/// <summary>A playbook that healed incidents like the ones of a suggestion.</summary>
/// <param name="Playbook">The playbook's key.</param>
/// <param name="Pattern">The pattern the healed incident matched.</param>
/// <param name="Similarity">Share of template words the suggestion and the healed incident have in common (0 to 1).</param>
/// <param name="Successes">Missions of this playbook that succeeded on similar incidents.</param>
public sealed record CandidatePlaybook(string Playbook, string Pattern, double Similarity, int Successes);

/// <summary>
/// What mining does with the database, for the cluster's one <see cref="PatternMinerGrain"/>: it
/// rebuilds a <see cref="TemplateMiner"/> from the stored unmatched incidents (first seen first, so
/// every cluster starts from the same incident as before: the suggestions survive restarts and
/// failovers, and a dismissal stays with its row), mines one more incident into a miner, and keeps
/// one <see cref="PatternSuggestion"/> row per cluster. It holds no miner itself: the grain does,
/// so a cluster has one miner, not one per instance (ADR draft-cluster-mining).
/// </summary>
public sealed class PatternMiner(
    IDbContextFactory<GraceDbContext> dbFactory,
    IOptionsMonitor<CatalogOptions> catalog,
    TimeProvider time,
    ILogger<PatternMiner> logger)
{
    /// <summary>Unmatched incidents read by a rebuild, newest first (older ones fall out of the rebuild).</summary>
    public const int RebuildLimit = 20_000;

    /// <summary>Succeeded missions looked at for candidate playbooks, newest first.</summary>
    public const int HealedLimit = 500;

    /// <summary>Below this word overlap a healed incident is not "similar".</summary>
    public const double MinimumSimilarity = 0.25;

    /// <summary>How often the cluster's miner is rebuilt from the database.</summary>
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromMinutes(15);

    private const int SampleCount = 5;

    /// <summary>
    /// A new miner from every stored incident that no pattern matches and no mission worked on; every
    /// cluster is stored, and suggestions no cluster starts from any more are removed (dismissed ones
    /// stay: they carry the Lead's "stop suggesting this").
    /// </summary>
    public async Task<TemplateMiner> RebuildAsync(CancellationToken cancellationToken)
    {
        List<Incident> incidents;
        await using (var db = await dbFactory.CreateDbContextAsync(cancellationToken))
        {
            incidents = await db.Incidents.AsNoTracking()
                .Where(i => i.PatternKey == null && !db.Missions.Any(m => m.IncidentId == i.Id))
                .OrderByDescending(i => i.FirstSeenAt).ThenByDescending(i => i.Id)
                .Take(RebuildLimit)
                .ToListAsync(cancellationToken);
        }

        var miner = new TemplateMiner();
        foreach (var incident in incidents.OrderBy(i => i.FirstSeenAt).ThenBy(i => i.Id))
        {
            if (!MatchesConfiguredPattern(incident))
            {
                miner.Add(MessageOf(incident));
            }
        }

        await StoreAsync(miner.Clusters, cancellationToken);
        var removed = await PruneAsync(miner.Clusters, cancellationToken);
        logger.LogInformation("Suggested patterns rebuilt: {Clusters} clusters from {Incidents} unmatched incidents ({Removed} stale suggestions removed)",
            miner.Clusters.Count, incidents.Count, removed);
        return miner;
    }

    /// <summary>Mines one incident into <paramref name="miner"/> and stores its cluster.</summary>
    public async Task MineAsync(TemplateMiner miner, Guid incidentId, CancellationToken cancellationToken)
    {
        Incident? incident;
        await using (var db = await dbFactory.CreateDbContextAsync(cancellationToken))
        {
            incident = await db.Incidents.AsNoTracking().SingleOrDefaultAsync(i => i.Id == incidentId && i.PatternKey == null, cancellationToken);
        }

        if (incident is null || MatchesConfiguredPattern(incident))
        {
            return;
        }

        var cluster = miner.Add(MessageOf(incident));
        await StoreAsync([cluster], cancellationToken);
    }

    /// <summary>
    /// Removes suggestions that no cluster of a full rebuild starts from: a cluster whose first
    /// incident was matched or deleted since starts again from another one (a new row), and without
    /// this its old row would stay, counting incidents twice.
    /// </summary>
    private async Task<int> PruneAsync(IReadOnlyList<MinedCluster> clusters, CancellationToken cancellationToken)
    {
        var seeds = clusters.Select(c => c.Seed).ToHashSet();
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var stale = await db.PatternSuggestions.Where(p => p.Status == SuggestionStatus.Suggested).Select(p => p.Id).ToListAsync(cancellationToken);
        stale.RemoveAll(seeds.Contains);
        if (stale.Count == 0)
        {
            return 0;
        }

        return await db.PatternSuggestions.Where(p => p.Status == SuggestionStatus.Suggested && stale.Contains(p.Id)).ExecuteDeleteAsync(cancellationToken);
    }

    private bool MatchesConfiguredPattern(Incident incident)
    {
        var signal = Plan.PlanningService.SignalOf(incident);
        return catalog.CurrentValue.Patterns.Values.Any(p => Sentinel.Matches(p, signal));
    }

    private static MinedMessage MessageOf(Incident incident) =>
        new(incident.Id, incident.SampleMessage, incident.Count, incident.Source, incident.ExceptionType, incident.FirstSeenAt, incident.Severity);

    private async Task StoreAsync(IReadOnlyList<MinedCluster> clusters, CancellationToken cancellationToken)
    {
        if (clusters.Count == 0)
        {
            return;
        }

        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var healed = await HealedAsync(db, cancellationToken);
        var ids = clusters.Select(c => c.Seed).ToList();
        var rows = await db.PatternSuggestions.Where(p => ids.Contains(p.Id)).ToDictionaryAsync(p => p.Id, cancellationToken);
        var dismissed = await db.PatternSuggestions.AsNoTracking().Where(p => p.Status == SuggestionStatus.Dismissed).ToListAsync(cancellationToken);
        var now = time.GetUtcNow();
        foreach (var cluster in clusters)
        {
            var regex = cluster.Regex;
            if (regex.Length > PatternSuggestion.RegexMaxLength)
            {
                continue;
            }

            if (!rows.TryGetValue(cluster.Seed, out var row))
            {
                row = new PatternSuggestion { Id = cluster.Seed, Template = "", MessageRegex = "", Source = "", Samples = "[]", CandidatePlaybooks = "[]" };
                // A cluster that a dismissed suggestion's regex already covers (it started again from another incident) stays dismissed.
                if (dismissed.FirstOrDefault(d => cluster.Members.All(m => SuggestionExport.RegexMatches(d.MessageRegex, m.Message))) is { } covered)
                {
                    row.Status = SuggestionStatus.Dismissed;
                    row.DismissedBy = covered.DismissedBy;
                    row.DismissedAt = covered.DismissedAt;
                    row.DismissReason = $"Covered by dismissed suggestion {covered.Id}.";
                }

                db.PatternSuggestions.Add(row);
            }

            row.Template = ColumnLimits.Shorten(cluster.TemplateText, ColumnLimits.Template);
            row.MessageRegex = regex;
            row.Source = ColumnLimits.Shorten(cluster.Source, ColumnLimits.Source);
            row.SourceShared = cluster.SourceShared;
            row.ExceptionType = cluster.ExceptionType is { } type ? ColumnLimits.Shorten(type, ColumnLimits.ExceptionType) : null;
            row.ExceptionTypeShared = cluster.ExceptionTypeShared;
            row.MinimumSeverity = cluster.MinimumSeverity;
            row.IncidentCount = cluster.IncidentCount;
            row.SignalCount = cluster.SignalCount;
            row.FirstSeenAt = cluster.FirstSeenAt;
            row.UpdatedAt = now;
            row.Samples = SamplesOf(cluster);
            row.CandidatePlaybooks = ColumnLimits.Shorten(JsonSerializer.Serialize(CandidatesFor(cluster, healed)), ColumnLimits.Text);
        }

        await db.SaveChangesAsync(cancellationToken);
    }

    private static string SamplesOf(MinedCluster cluster)
    {
        var samples = cluster.Members.OrderBy(m => m.SeenAt).Take(SampleCount).Select(m => ColumnLimits.Shorten(m.Message, 1000)).ToList();
        return JsonSerializer.Serialize(samples);
    }

    private sealed record Healed(string Playbook, string Pattern, HashSet<string> Words);

    /// <summary>The incidents missions healed lately, with the words of their messages.</summary>
    private async Task<List<Healed>> HealedAsync(GraceDbContext db, CancellationToken cancellationToken)
    {
        var rows = await db.Missions.AsNoTracking()
            .Where(m => m.State == MissionState.Succeeded && !m.DryRun)
            .OrderByDescending(m => m.CompletedAt)
            .Take(HealedLimit)
            .Select(m => new { m.PlaybookKey, m.PatternKey, m.Incident!.SampleMessage })
            .ToListAsync(cancellationToken);
        var playbooks = catalog.CurrentValue.Playbooks;
        return rows.Where(r => playbooks.ContainsKey(r.PlaybookKey)).Select(r => new Healed(r.PlaybookKey, r.PatternKey, WordsOf(TemplateMiner.Mask(r.SampleMessage)))).ToList();
    }

    /// <summary>Playbooks of healed incidents whose words overlap the cluster's template most (Jaccard), best first, at most three.</summary>
    private static List<CandidatePlaybook> CandidatesFor(MinedCluster cluster, List<Healed> healed)
    {
        var words = WordsOf(cluster.TemplateText.Split(' '));
        if (words.Count == 0)
        {
            return [];
        }

        return healed
            .Select(h => (h, Similarity: (double)h.Words.Intersect(words).Count() / h.Words.Union(words).Count()))
            .Where(x => x.Similarity >= MinimumSimilarity)
            .GroupBy(x => x.h.Playbook, StringComparer.OrdinalIgnoreCase)
            .Select(g => new CandidatePlaybook(g.Key, g.MaxBy(x => x.Similarity).h.Pattern, Math.Round(g.Max(x => x.Similarity), 3), g.Count()))
            .OrderByDescending(c => c.Similarity).ThenByDescending(c => c.Successes).ThenBy(c => c.Playbook, StringComparer.Ordinal)
            .Take(3)
            .ToList();
    }

    /// <summary>The literal words of masked tokens, lower case, punctuation trimmed; wildcards left out.</summary>
    internal static HashSet<string> WordsOf(IEnumerable<string> tokens) => tokens
        .Select(t => t.Replace(TemplateMiner.Wildcard, " ", StringComparison.Ordinal))
        .SelectMany(t => t.Split([' ', '=', ':', '(', ')', '[', ']', ',', ';', '.', '\'', '"'], StringSplitOptions.RemoveEmptyEntries))
        .Where(w => w.Length > 1)
        .Select(w => w.ToLowerInvariant())
        .ToHashSet(StringComparer.Ordinal);
}
