using System.Text.Json;
using System.Threading.Channels;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Configuration;
using Grace.Engine.Diagnose;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Hosting;
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
/// Feeds incidents that matched no pattern to the <see cref="TemplateMiner"/> and keeps one
/// <see cref="PatternSuggestion"/> row per cluster. On start it rebuilds the miner from the stored
/// unmatched incidents (first seen first, so every cluster starts from the same incident as
/// before): the suggestions survive restarts, and a dismissal stays with its row. Work arrives on
/// a channel, so planning never waits on mining.
/// </summary>
public sealed class PatternMiningService(
    IDbContextFactory<GraceDbContext> dbFactory,
    IOptionsMonitor<CatalogOptions> catalog,
    TimeProvider time,
    ILogger<PatternMiningService> logger) : BackgroundService
{
    /// <summary>Unmatched incidents read at start, newest first (older ones fall out of the rebuild).</summary>
    public const int RebuildLimit = 20_000;

    /// <summary>Succeeded missions looked at for candidate playbooks, newest first.</summary>
    public const int HealedLimit = 500;

    /// <summary>Below this word overlap a healed incident is not "similar".</summary>
    public const double MinimumSimilarity = 0.25;

    private const int SampleCount = 5;
    private readonly Channel<Guid> _queue = Channel.CreateBounded<Guid>(new BoundedChannelOptions(10_000) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly TaskCompletionSource _rebuilt = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TemplateMiner _miner = new();
    private long _skipped;

    /// <summary>Completes once the start-up rebuild is done (tests wait on it).</summary>
    public Task Rebuilt => _rebuilt.Task;

    /// <summary>Incidents not mined because the queue was full (the next rebuild picks them up).</summary>
    public long Skipped => Interlocked.Read(ref _skipped);

    /// <summary>An incident the sentinel found no pattern for: mined soon, off the caller's path.</summary>
    public void Enqueue(Guid incidentId)
    {
        if (!_queue.Writer.TryWrite(incidentId))
        {
            Interlocked.Increment(ref _skipped);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await RebuildAsync(stoppingToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
        {
            // Mining is advice: Grace heals without it. The next start tries again.
            logger.LogWarning(ex, "Rebuilding the suggested patterns from stored unmatched incidents failed");
        }
        finally
        {
            _rebuilt.TrySetResult();
        }

        await Task.WhenAll(ConsumeAsync(stoppingToken), RefreshAsync(stoppingToken));
    }

    /// <summary>
    /// Rebuilds now and then: incidents counted more signals since they were mined, others were
    /// matched by a pattern added since, and in a cluster other instances mined what they planned.
    /// </summary>
    private async Task RefreshAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await Task.Delay(RefreshInterval, time, stoppingToken);
                try
                {
                    await RebuildAsync(stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    logger.LogWarning(ex, "Refreshing the suggested patterns failed; trying again in {Minutes} min", RefreshInterval.TotalMinutes);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>How often the suggestions are rebuilt from the database.</summary>
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromMinutes(15);

    private async Task ConsumeAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var id in _queue.Reader.ReadAllAsync(stoppingToken))
            {
                try
                {
                    await MineAsync(id, stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    logger.LogWarning(ex, "Mining incident {IncidentId} for a suggested pattern failed", id);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Starts the miner over from every stored incident that no pattern matches and no mission worked on, then stores every cluster.</summary>
    public async Task RebuildAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
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

            _miner = miner;
            await StoreAsync(miner.Clusters, cancellationToken);
            logger.LogInformation("Suggested patterns rebuilt: {Clusters} clusters from {Incidents} unmatched incidents", miner.Clusters.Count, incidents.Count);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Mines one incident now (the queue's worker, and tests).</summary>
    public async Task MineAsync(Guid incidentId, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
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

            var cluster = _miner.Add(MessageOf(incident));
            await StoreAsync([cluster], cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
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
