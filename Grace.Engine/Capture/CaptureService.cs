using System.Runtime.InteropServices;
using System.Text.Json;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Configuration;
using Grace.Engine.Diagnose;
using Grace.Engine.Gate;
using Grace.Engine.Notifications;
using Grace.Engine.Plan;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;

namespace Grace.Engine.Capture;

/// <summary>
/// Drains the intake in batches, one transaction per at most Grace:Engine:CaptureIncidentsPerCommit
/// incidents (many HTTP requests share one commit; ADR 0036 bounds how long it holds the writer): folds
/// repeats of a fingerprint into one incident (count, last seen, sample), reopens a resolved
/// incident that recurs, and marks only a new or reopened incident for planning, so a storm of
/// repeats never spawns a storm of missions. The mark is stored with the incident, so a crash
/// between storing and planning strands nothing. Planning runs elsewhere, off this loop.
/// <para>
/// A new fingerprint that a pattern would plan is diagnosed on arrival and committed first, in a
/// transaction of its own that queues with mission writes (ADR 0038): a tier-0 mission's incident
/// does not wait behind the counting of repeats. Between two chunks of a batch, capture looks at
/// what has arrived since for such fingerprints too. Signals of one fingerprint are stored in the
/// order they came: a fingerprint goes first only while none of its signals waits in the batch.
/// </para>
/// </summary>
public sealed class CaptureService(
    SignalIntake intake,
    Sentinel sentinel,
    IDbContextFactory<GraceDbContext> dbFactory,
    SqliteLogFlush logFlush,
    IOptionsMonitor<EngineOptions> options,
    PlanningService planning,
    CaptureCounters counters,
    SignalRateTracker rates,
    IPipelineNotifier notifier,
    Escalate.EscalationLadder ladder,
    Escalate.IncidentJournal incidentJournal,
    TimeProvider time,
    ILogger<CaptureService> logger) : BackgroundService
{
    // Two instances may create the same fingerprint at once; the unique index refuses one, and a
    // second pass then finds the row and counts into it.
    private static readonly ResiliencePipeline SaveRetry = new ResiliencePipelineBuilder()
        .AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = new PredicateBuilder().Handle<DbUpdateException>(),
            MaxRetryAttempts = 3,
            Delay = TimeSpan.FromMilliseconds(50),
            UseJitter = true,
        })
        .Build();

    /// <summary>
    /// Fingerprints this loop has stored, so that only a new one is diagnosed on arrival. Forgetting
    /// costs little (a known fingerprint that a pattern would plan goes first once more), so the set
    /// is simply emptied when it reaches this size.
    /// </summary>
    private const int KnownFingerprintsKept = 100_000;

    private readonly HashSet<string> _known = new(StringComparer.Ordinal);

    // Signals read from the intake between two chunks of a batch that did not go first: they open the next batch, in order.
    private readonly List<Arrival> _readAhead = [];
    private readonly HashSet<string> _readAheadKeys = new(StringComparer.Ordinal);

    // Reused by each grouping the capture loop makes. ProcessBatchAsync may be called by several writers
    // at once (tests and the benchmark fold concurrently), so each of its calls groups with its own.
    private readonly GroupingScratch _loopScratch = new();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<Arrival>(options.CurrentValue.CaptureBatchSize);
        PreparedBatch? prepared = null;
        try
        {
            while (_readAhead.Count > 0 || await intake.Reader.WaitToReadAsync(stoppingToken))
            {
                Take(batch);
                prepared = Prepare(batch, firstsAhead: true, _loopScratch);
                await StoreUntilStoredAsync(batch, prepared, stoppingToken);
                // Stored: the drain on stopping must not store it again.
                batch.Clear();
                prepared = null;
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            await DrainAsync(batch, prepared);
        }
    }

    private void Take(List<Arrival> batch)
    {
        batch.Clear();
        batch.AddRange(_readAhead);
        _readAhead.Clear();
        _readAheadKeys.Clear();
        while (batch.Count < options.CurrentValue.CaptureBatchSize && intake.Reader.TryRead(out var item))
        {
            batch.Add(Arrival.Of(item));
        }
    }

    /// <summary>
    /// Stores one batch, trying again while the database is away: an accepted signal is kept, not
    /// dropped. Meanwhile the intake fills, and what cannot wait is refused (and counted) at the door.
    /// </summary>
    private async Task StoreUntilStoredAsync(List<Arrival> batch, PreparedBatch prepared, CancellationToken stoppingToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await StoreAsync(batch, prepared, stoppingToken);
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                var delay = TimeSpan.FromMilliseconds(Math.Min(5000, 250 * Math.Pow(2, Math.Min(attempt, 5))));
                logger.LogWarning(ex, "A capture batch of {Count} signals could not be stored (attempt {Attempt}); trying again in {Delay} ms", batch.Count, attempt, delay.TotalMilliseconds);
                await Task.Delay(delay, time, stoppingToken);
            }
        }
    }

    private async Task StoreAsync(List<Arrival> batch, PreparedBatch prepared, CancellationToken cancellationToken)
    {
        await StoreChunksAsync(prepared, cancellationToken);
        Stored(batch);
    }

    /// <summary>Whether capture's commits skip their own flush (on SQLite; see <see cref="CaptureFlush"/>).</summary>
    private bool CommitsUnflushed => options.CurrentValue.CaptureFlush != CaptureFlush.EveryBatch;

    /// <summary>
    /// With <see cref="CaptureFlush.OncePerBatch"/>, flushes the write-ahead log, every commit of the batch at once, once
    /// SQLite's writer has been given back (ADR 0039): a mission write that waited for the writer does not wait for
    /// capture's fsync too, and a signal is still answered as stored only once it is on disk.
    /// </summary>
    private void FlushCommitted()
    {
        if (options.CurrentValue.CaptureFlush == CaptureFlush.OncePerBatch)
        {
            logFlush.Flush();
        }
    }

    private void Stored(List<Arrival> arrivals)
    {
        FlushCommitted();
        counters.Stored(arrivals.Count);
        foreach (var arrival in arrivals)
        {
            arrival.Item.Receipt?.OneStored();
        }
    }

    // Signals already accepted are stored before the host stops, within a bound; what is left is counted as lost.
    private async Task DrainAsync(List<Arrival> pending, PreparedBatch? prepared)
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var batch = pending;
        try
        {
            while (!bound.IsCancellationRequested)
            {
                if (batch.Count == 0)
                {
                    Take(batch);
                    prepared = null;
                }

                if (batch.Count == 0)
                {
                    return;
                }

                // A batch interrupted part way keeps its place: the commits it made are not counted twice.
                prepared ??= Prepare(batch, firstsAhead: false, _loopScratch);
                await StoreAsync(batch, prepared, bound.Token);
                batch.Clear();
                prepared = null;
            }
        }
        catch (Exception ex)
        {
            List<Arrival> unstored = [.. batch, .. prepared?.Ahead?.Arrivals ?? [], .. _readAhead];
            var lost = unstored.Count + intake.Buffered;
            counters.Lost(lost);
            logger.LogWarning(ex, "Stopping: {Count} buffered signals could not be stored", lost);
            var why = new InvalidOperationException("Grace stopped before the signal could be stored.");
            foreach (var arrival in unstored)
            {
                arrival.Item.Receipt?.Lost(why);
            }

            while (intake.Reader.TryRead(out var item))
            {
                item.Receipt?.Lost(why);
            }
        }
    }

    /// <summary>
    /// Stores a batch of signals, in as many transactions as its incidents need (see <see cref="Prepare"/>),
    /// in the order given: no fingerprint goes first (what tests that call capture directly rely on).
    /// </summary>
    internal async Task ProcessBatchAsync(IReadOnlyList<Signal> batch, CancellationToken cancellationToken)
    {
        await StoreChunksAsync(Prepare([.. batch.Select(s => Arrival.Of(new IntakeItem(s, null)))], firstsAhead: false, new GroupingScratch()), cancellationToken);
        FlushCommitted();
    }

    /// <summary>
    /// Folds a batch by fingerprint and cuts it into chunks of at most Grace:Engine:CaptureIncidentsPerCommit
    /// incidents, one transaction each: a mission write waits for at most one such transaction (ADR 0036), not
    /// for a batch of thousands of new fingerprints. Every signal of a fingerprint stays in one chunk, so an
    /// incident's count, sample and episode are decided in one transaction as before.
    /// </summary>
    private PreparedBatch Prepare(List<Arrival> batch, bool firstsAhead, GroupingScratch scratch)
    {
        var perCommit = options.CurrentValue.CaptureIncidentsPerCommit;
        var groups = GroupByFingerprint(batch, scratch);
        if (!firstsAhead)
        {
            return new PreparedBatch([.. groups.Chunk(perCommit)], firstChunks: 0, firstsAhead: false);
        }

        // A group is one fingerprint's signals in arrival order; it goes first when its first signal is a new fingerprint a pattern would plan.
        var firsts = groups.Where(g => GoesFirst(g.Signals[0], g.Fingerprint)).ToList();
        var rest = firsts.Count == 0 ? groups : groups.Except(firsts).ToList();
        var firstChunks = firsts.Chunk(perCommit).ToList();
        return new PreparedBatch([.. firstChunks, .. rest.Chunk(perCommit)], firstChunks.Count, firstsAhead: true);
    }

    /// <summary>A firing signal of a fingerprint this loop has not stored, which a pattern would plan (ADR 0038).</summary>
    private bool GoesFirst(Signal signal, string fingerprint) =>
        !signal.Resolved && !_known.Contains(fingerprint) && sentinel.WouldPlan(signal);

    /// <summary>
    /// Between two chunks: reads what has arrived since, up to a batch, and takes out the new
    /// fingerprints a pattern would plan, to be committed before the next chunk. The rest waits for
    /// the next batch, in order. A fingerprint with a signal still waiting (in this batch's chunks to
    /// come, or read ahead before) does not go first, so its signals keep their order.
    /// </summary>
    private Ahead? TakeFirstsAhead(PreparedBatch prepared)
    {
        List<Arrival>? firsts = null;
        HashSet<string>? firstKeys = null;
        var room = options.CurrentValue.CaptureBatchSize - _readAhead.Count;
        while (room-- > 0 && intake.Reader.TryRead(out var item))
        {
            var arrival = Arrival.Of(item);
            var key = arrival.Fingerprint;
            if (firstKeys?.Contains(key) == true
                || (!_readAheadKeys.Contains(key) && !prepared.Waiting(key) && GoesFirst(item.Signal, key)))
            {
                (firsts ??= []).Add(arrival);
                (firstKeys ??= new HashSet<string>(StringComparer.Ordinal)).Add(key);
            }
            else
            {
                _readAhead.Add(arrival);
                _readAheadKeys.Add(key);
            }
        }

        if (firsts is null)
        {
            return null;
        }

        var groups = GroupByFingerprint(firsts, _loopScratch);
        return new Ahead(firsts, [.. groups.Chunk(options.CurrentValue.CaptureIncidentsPerCommit)]);
    }

    /// <summary>
    /// One group per fingerprint, in the order each first arrived, its signals in arrival order. Each
    /// group's list is made at its final size (counted first), not grown: a batch of 20,000 repeats of a
    /// few fingerprints would otherwise copy its signals several times over as the lists double.
    /// </summary>
    private static List<Group> GroupByFingerprint(List<Arrival> arrivals, GroupingScratch scratch)
    {
        var (ordinals, sizes) = (scratch.Ordinals, scratch.Sizes);
        ordinals.Clear();
        sizes.Clear();
        foreach (var arrival in arrivals)
        {
            ref var ordinal = ref CollectionsMarshal.GetValueRefOrAddDefault(ordinals, arrival.Fingerprint, out var seen);
            if (!seen)
            {
                ordinal = sizes.Count;
                sizes.Add(0);
            }

            sizes[ordinal]++;
        }

        var groups = new List<Group>(sizes.Count);
        foreach (var arrival in arrivals)
        {
            // Ordinals were given in order of first arrival, so a group's first signal is the next one to make.
            var ordinal = ordinals[arrival.Fingerprint];
            if (ordinal == groups.Count)
            {
                groups.Add(new Group(arrival.Fingerprint, new List<Signal>(sizes[ordinal])));
            }

            groups[ordinal].Signals.Add(arrival.Item.Signal);
        }

        return groups;
    }

    private void Remember(Group[] chunk)
    {
        if (_known.Count + chunk.Length > KnownFingerprintsKept)
        {
            _known.Clear();
        }

        foreach (var group in chunk)
        {
            _known.Add(group.Fingerprint);
        }
    }

    /// <summary>
    /// Commits the chunks not committed yet, in order. A chunk that fails leaves the ones before it
    /// committed and counted: the next attempt starts at the failed one, so no repeat is counted twice.
    /// </summary>
    private async Task StoreChunksAsync(PreparedBatch prepared, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (prepared.Ahead is { } ahead)
            {
                // New fingerprints that arrived meanwhile, before the batch's next chunk (and before it again if that fails).
                while (ahead.Committed < ahead.Chunks.Count)
                {
                    await StoreChunkAsync(ahead.Chunks[ahead.Committed], bulk: false, cancellationToken);
                    ahead.Committed++;
                }

                // Answered before it is let go: should the flush fail, the next attempt flushes and answers it again.
                Stored(ahead.Arrivals);
                prepared.Ahead = null;
            }

            if (prepared.Committed >= prepared.Chunks.Count)
            {
                return;
            }

            var chunk = prepared.Chunks[prepared.Committed];
            await StoreChunkAsync(chunk, bulk: prepared.Committed >= prepared.FirstChunks, cancellationToken);
            prepared.Committed++;
            if (prepared.FirstsAhead)
            {
                prepared.Done(chunk);
                Remember(chunk);
                if (prepared.Committed < prepared.Chunks.Count)
                {
                    prepared.Ahead = TakeFirstsAhead(prepared);
                }
            }
        }
    }

    private async Task StoreChunkAsync(Group[] groups, bool bulk, CancellationToken cancellationToken)
    {
        var (toPlan, updates, lines) = await CommitChunkAsync(groups, bulk, cancellationToken);
        var signalsOf = groups.ToDictionary(g => g.Fingerprint, g => g.Signals);
        foreach (var update in updates)
        {
            rates.Record(update.IncidentId, signalsOf[update.Fingerprint].Count(x => !x.Resolved));
            notifier.Publish(update);
        }

        incidentJournal.Publish(lines);
        foreach (var incident in toPlan)
        {
            // Planning takes the incident as this transaction committed it, without reading it back
            // (ADR 0036): the mark stored with it still covers a crash before planning.
            planning.Enqueue(IncidentToPlan.Of(incident));
        }
    }

    private async Task<(List<Incident> ToPlan, List<IncidentUpdated> Updates, List<IncidentEvent> Lines)> CommitChunkAsync(Group[] groups, bool bulk, CancellationToken cancellationToken)
    {
        var toPlan = new List<Incident>();
        var updates = new List<IncidentUpdated>();
        var lines = new List<IncidentEvent>();
        // Capture's commits queue behind waiting mission writes at SQLite's one writer (ADR 0036): a
        // mission is what someone waits for, while these signals are already safe in the intake. New
        // fingerprints a pattern would plan queue with the missions (ADR 0038). The mark ends with
        // this method (an async method's AsyncLocal changes do not flow back to its caller).
        using var lane = bulk ? SqliteWritePriority.Bulk() : (SqliteWritePriority.Scope?)null;
        await SaveRetry.ExecuteAsync(async ct =>
        {
            await using var db = await dbFactory.CreateDbContextAsync(ct);
            // The provider's retrying strategy owns the transaction: a retried attempt starts over from the read.
            await db.Database.CreateExecutionStrategy().ExecuteAsync(ct, async ct =>
            {
                toPlan.Clear();
                updates.Clear();
                lines.Clear();
                db.ChangeTracker.Clear();
                var increments = new Dictionary<Guid, int>();
                if (CommitsUnflushed)
                {
                    // Flushed once the batch is committed and the writer given back (OncePerBatch), or with the next flushed commit.
                    await SqliteDurability.FlushWithNextCommitAsync(db, ct);
                }

                await using var transaction = await db.Database.BeginTransactionAsync(ct);
                var keys = groups.Select(g => g.Fingerprint).ToList();
                var existing = await db.Incidents.Where(i => keys.Contains(i.Fingerprint)).ToDictionaryAsync(i => i.Fingerprint, ct);
                var now = time.GetUtcNow();
                var quietSince = now - TimeSpan.FromMinutes(options.CurrentValue.DedupWindowMinutes);
                foreach (var group in groups)
                {
                    // Usually every signal of a group is firing: the group's own list, not a copy of it.
                    var firing = group.Signals.Exists(x => x.Resolved) ? group.Signals.FindAll(x => !x.Resolved) : group.Signals;
                    var resolvedLast = group.Signals[^1].Resolved;
                    var isNew = !existing.TryGetValue(group.Fingerprint, out var incident);
                    if (firing.Count == 0)
                    {
                        // Only "resolved" notices: close the incident if it is open; an unknown one is nothing to close.
                        if (incident is not null && incident.Status != IncidentStatus.Resolved)
                        {
                            incident.Status = IncidentStatus.Resolved;
                            incident.ResolvedAt = now;
                            Escalate.EscalationLadder.ClearLadder(incident);
                            lines.Add(incidentJournal.Add(db, incident.Id, IncidentEventKind.Resolved, $"Resolved by a signal from {Truncate(group.Signals[^1].Source, ColumnLimits.Source)}."));
                            updates.Add(new IncidentUpdated(now, incident.Id, incident.Fingerprint, incident.Source, incident.Status, incident.Count, false));
                        }

                        continue;
                    }

                    var last = firing[^1];
                    var severity = firing.Max(x => x.Severity);
                    if (incident is null)
                    {
                        incident = new Incident
                        {
                            Id = Guid.CreateVersion7(now),
                            Fingerprint = group.Fingerprint,
                            Source = Truncate(last.Source, ColumnLimits.Source),
                            ExceptionType = last.ExceptionType is null ? null : Truncate(last.ExceptionType, ColumnLimits.ExceptionType),
                            Template = Truncate(Fingerprinter.TemplateOf(last), ColumnLimits.Template),
                            SampleMessage = Truncate(last.Message, ColumnLimits.Text),
                            Severity = severity,
                            Status = IncidentStatus.Open,
                            Target = last.Target is null ? null : Truncate(last.Target, ColumnLimits.Key),
                            Labels = last.Labels is { Count: > 0 } labels ? Truncate(JsonSerializer.Serialize(labels), ColumnLimits.Labels) : null,
                            FirstSeenAt = firing.Min(x => x.Timestamp),
                            LastSeenAt = now,
                            Count = 0,
                        };
                        incident.OpenedAt = EpisodeStart(firing, now);
                        db.Incidents.Add(incident);
                        lines.Add(incidentJournal.Add(db, incident.Id, IncidentEventKind.Opened, $"Opened by a signal from {incident.Source}: {Truncate(last.Message, 300)}", at: incident.OpenedAt));
                        MarkForPlanning(incident, last, resolvedLast, toPlan);
                    }
                    else if (incident.Status == IncidentStatus.Resolved || incident.LastSeenAt < quietSince)
                    {
                        // A resolved incident that fires again reopens; an open one silent past the dedup window recurs.
                        // Either way a new episode begins: time to recover counts from here, and the escalation ladder starts afresh.
                        var quiet = incident.Status != IncidentStatus.Resolved;
                        incident.Status = IncidentStatus.Open;
                        incident.Reopened++;
                        incident.ResolvedAt = null;
                        incident.OpenedAt = EpisodeStart(firing, now);
                        Escalate.EscalationLadder.ClearLadder(incident);
                        lines.Add(incidentJournal.Add(db, incident.Id, IncidentEventKind.Reopened,
                            (quiet ? $"Fired again after more than {options.CurrentValue.DedupWindowMinutes} min of quiet" : "Fired again after it was resolved") + $": {Truncate(last.Message, 300)}"));
                        MarkForPlanning(incident, last, resolvedLast, toPlan);
                    }
                    else if (!resolvedLast && ladder.ResumeOnSignal(db, incident) is { } resumed)
                    {
                        // An open incident that fires again while its next escalation rung waited for it: not forgotten.
                        lines.Add(resumed);
                        toPlan.Add(incident);
                    }

                    incident.Count += firing.Count;
                    if (!isNew)
                    {
                        // Several instances fold repeats into one incident at once: a read-add-write of the
                        // count would lose theirs, so an existing row's count is added to in the database.
                        increments[incident.Id] = firing.Count;
                        db.Entry(incident).Property(i => i.Count).IsModified = false;
                    }

                    incident.LastSeenAt = now;
                    if (!isNew)
                    {
                        // Last seen moves forward only, whichever instance (and clock) writes last: set with the count below.
                        db.Entry(incident).Property(i => i.LastSeenAt).IsModified = false;
                    }

                    incident.SampleMessage = Truncate(last.Message, ColumnLimits.Text);
                    if (severity > incident.Severity)
                    {
                        incident.Severity = severity;
                    }

                    if (resolvedLast)
                    {
                        incident.Status = IncidentStatus.Resolved;
                        incident.ResolvedAt = now;
                        Escalate.EscalationLadder.ClearLadder(incident);
                        lines.Add(incidentJournal.Add(db, incident.Id, IncidentEventKind.Resolved, $"Resolved by a signal from {Truncate(last.Source, ColumnLimits.Source)}."));
                    }

                    updates.Add(new IncidentUpdated(now, incident.Id, incident.Fingerprint, incident.Source, incident.Status, incident.Count, isNew));
                }

                await db.SaveChangesAsync(ct);
                foreach (var sameIncrement in increments.GroupBy(i => i.Value, i => i.Key))
                {
                    var by = sameIncrement.Key;
                    var idList = sameIncrement.ToList();
                    await db.Incidents.Where(i => idList.Contains(i.Id)).ExecuteUpdateAsync(set => set
                        .SetProperty(i => i.Count, i => i.Count + by)
                        .SetProperty(i => i.LastSeenAt, i => i.LastSeenAt > now ? i.LastSeenAt : now), ct);
                }

                if (increments.Count > 0)
                {
                    // What the console shows is the total, other instances' repeats included.
                    var ids = increments.Keys.ToList();
                    var counts = await db.Incidents.Where(i => ids.Contains(i.Id)).Select(i => new { i.Id, i.Count }).ToDictionaryAsync(i => i.Id, i => i.Count, ct);
                    for (var u = 0; u < updates.Count; u++)
                    {
                        if (counts.TryGetValue(updates[u].IncidentId, out var total))
                        {
                            updates[u] = updates[u] with { Count = total };
                        }
                    }
                }

                await transaction.CommitAsync(ct);
            });
        }, cancellationToken);
        return (toPlan, updates, lines);
    }

    /// <summary>The first signal of an episode; a timestamp from the future (a skewed client clock) counts as now.</summary>
    private static DateTimeOffset EpisodeStart(List<Signal> firing, DateTimeOffset now)
    {
        var first = firing.Min(x => x.Timestamp);
        return first > now ? now : first;
    }

    /// <summary>A new or reopened incident that is still firing needs a mission: marked in the same transaction, planned after the commit.</summary>
    private static void MarkForPlanning(Incident incident, Signal last, bool resolvedLast, List<Incident> toPlan)
    {
        if (resolvedLast)
        {
            return;
        }

        incident.PlanPending = true;
        incident.OpenedBy = last.ReportedBy is null ? null : Truncate(last.ReportedBy, ColumnLimits.UserName);
        toPlan.Add(incident);
    }

    private static string Truncate(string value, int max) => value.Length <= max ? value : value[..max];

    private sealed record Group(string Fingerprint, List<Signal> Signals);

    /// <summary>A signal taken from the intake, with its fingerprint (computed once).</summary>
    /// <summary>The lookup and counts one grouping fills; kept between batches so a grouping allocates only its groups.</summary>
    private sealed class GroupingScratch
    {
        public Dictionary<string, int> Ordinals { get; } = new(StringComparer.Ordinal);

        public List<int> Sizes { get; } = [];
    }

    private readonly record struct Arrival(IntakeItem Item, string Fingerprint)
    {
        public static Arrival Of(IntakeItem item) => new(item, Fingerprinter.Compute(item.Signal));
    }

    /// <summary>
    /// A batch cut into chunks of incidents (new fingerprints a pattern would plan first), how many
    /// of them are committed, and the new fingerprints read ahead that go before the next chunk.
    /// </summary>
    private sealed class PreparedBatch(List<Group[]> chunks, int firstChunks, bool firstsAhead)
    {
        private HashSet<string>? _waiting;

        public List<Group[]> Chunks { get; } = chunks;

        /// <summary>The leading chunks that queue with mission writes.</summary>
        public int FirstChunks { get; } = firstChunks;

        /// <summary>Whether new fingerprints that arrive meanwhile go before the next chunk (the capture loop's batches).</summary>
        public bool FirstsAhead { get; } = firstsAhead;

        public int Committed { get; set; }

        public Ahead? Ahead { get; set; }

        /// <summary>Whether a fingerprint has signals in a chunk not committed yet.</summary>
        public bool Waiting(string fingerprint)
        {
            _waiting ??= [.. Chunks.Skip(Committed).SelectMany(c => c).Select(g => g.Fingerprint)];
            return _waiting.Contains(fingerprint);
        }

        public void Done(Group[] chunk)
        {
            foreach (var group in chunk)
            {
                _waiting?.Remove(group.Fingerprint);
            }
        }
    }

    /// <summary>New fingerprints read ahead between two chunks, cut into chunks of their own.</summary>
    private sealed class Ahead(List<Arrival> arrivals, List<Group[]> chunks)
    {
        public List<Arrival> Arrivals { get; } = arrivals;

        public List<Group[]> Chunks { get; } = chunks;

        public int Committed { get; set; }
    }
}
