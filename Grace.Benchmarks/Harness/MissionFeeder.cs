using Grace.Data.Entities;
using Microsoft.EntityFrameworkCore;

namespace Grace.Benchmarks.Harness;

/// <summary>
/// Keeps one mission of each given playbook under way: as soon as a playbook's last mission has
/// ended, a new signal (a source never seen before, so a new incident) asks for the next. Several
/// playbooks on one target keep that target busy without Grace folding the signals into a mission
/// already running (a mission covers new incidents of its own playbook and target).
/// </summary>
internal sealed class MissionFeeder(GraceFleet fleet, IReadOnlyList<MissionFeeder.Feed> feeds, TimeSpan? pause = null)
{
    /// <summary>A playbook to keep busy, the source prefix its pattern matches, and the instances its signals go to.</summary>
    public sealed record Feed(string Playbook, string SourcePrefix, IReadOnlyList<GraceProcess>? Via = null);

    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan Resend = TimeSpan.FromSeconds(20);

    public int Sent { get; private set; }
    public int Refused { get; private set; }
    public int Resent { get; private set; }

    public async Task RunAsync(TimeSpan duration, CancellationToken cancellationToken = default)
    {
        var runId = Guid.NewGuid().ToString("N")[..8];
        var keys = feeds.Select(f => f.Playbook).ToList();
        var sentAt = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
        // With a pause, a playbook whose mission ended waits that long before asking for the next (a quiet load).
        var endedSeen = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
        var sequence = 0;
        var end = DateTimeOffset.UtcNow + duration;
        while (DateTimeOffset.UtcNow < end && !cancellationToken.IsCancellationRequested)
        {
            var since = sentAt.Count == 0 ? DateTimeOffset.UtcNow : sentAt.Values.Min();
            List<(string Playbook, MissionState State, DateTimeOffset CreatedAt)> missions;
            await using (var db = fleet.Db())
            {
                missions = (await db.Missions.AsNoTracking()
                    .Where(m => keys.Contains(m.PlaybookKey) && m.CreatedAt >= since)
                    .Select(m => new { m.PlaybookKey, m.State, m.CreatedAt }).ToListAsync(cancellationToken))
                    .Select(m => (m.PlaybookKey, m.State, m.CreatedAt)).ToList();
            }

            var sends = new List<Task>();
            foreach (var feed in feeds)
            {
                var due = !sentAt.TryGetValue(feed.Playbook, out var at);
                if (!due)
                {
                    var mine = missions.Where(m => m.Playbook == feed.Playbook && m.CreatedAt >= at).OrderBy(m => m.CreatedAt).FirstOrDefault();
                    if (mine.Playbook is not null)
                    {
                        if (mine.State.IsTerminal())
                        {
                            var seen = endedSeen.TryGetValue(feed.Playbook, out var e) ? e : endedSeen[feed.Playbook] = DateTimeOffset.UtcNow;
                            due = DateTimeOffset.UtcNow - seen >= (pause ?? TimeSpan.Zero);
                        }
                    }
                    else if (DateTimeOffset.UtcNow - at > Resend)
                    {
                        // No mission for a signal answered 202 long ago: ask again (and count it, it is a finding).
                        due = true;
                        Resent++;
                    }
                }

                if (due)
                {
                    endedSeen.Remove(feed.Playbook);
                    sentAt[feed.Playbook] = DateTimeOffset.UtcNow;
                    var n = sequence++;
                    var via = feed.Via is { Count: > 0 } list ? list[n % list.Count] : null;
                    sends.Add(SendAsync(feed, via, $"{feed.SourcePrefix}{runId}-{n}", cancellationToken));
                }
            }

            await Task.WhenAll(sends);
            await Task.Delay(Poll, cancellationToken);
        }
    }

    private async Task SendAsync(Feed feed, GraceProcess? via, string source, CancellationToken cancellationToken)
    {
        var sent = await fleet.PostSignalsAsync(new { source, message = $"{feed.Playbook} needs its action", severity = "Error" }, via, cancellationToken: cancellationToken);
        lock (feeds)
        {
            if (sent.Accepted)
            {
                Sent++;
            }
            else
            {
                Refused++;
            }
        }
    }
}
