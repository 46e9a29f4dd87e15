using System.Globalization;
using System.Net.Http.Json;
using Grace.Benchmarks.Harness;
using Grace.Data.Entities;
using Microsoft.EntityFrameworkCore;

namespace Grace.Benchmarks;

/// <summary>
/// What the circuit benchmark stores before the circuits open, so that pages other than the lists are
/// measured with what they show in use: missions that ran to the end (a full timeline, a snapshot, a
/// contract verdict, the playbook's learning statistics) and missions waiting for approval (the approval
/// cards). Each seeded mission has a catalog entry of its own, added through configuration: a directory
/// target under a cache root with one file in it, a pattern matching one message, and a <c>cache.clear</c>
/// playbook (tier 0 for the finished ones, tier 2 for the waiting ones), so no cooldown or per-target
/// limit of one mission holds another back, and the action is real (the file is moved to quarantine).
/// </summary>
/// <param name="Missions">Missions that act and finish (Succeeded) before the circuits open.</param>
/// <param name="Approvals">Missions left waiting for an operator's approval (tier 2).</param>
internal sealed record CircuitPageSeeds(int Missions, int Approvals)
{
    public static readonly CircuitPageSeeds None = new(0, 0);

    private const string Playbook = "bench-clear";

    /// <summary>The catalog entries the seeded missions need, as configuration keys.</summary>
    public IEnumerable<KeyValuePair<string, string>> Settings(string folder)
    {
        if (Missions + Approvals == 0)
        {
            yield break;
        }

        var root = Path.Combine(folder, "bench-cache");
        // Index 1: the shipped catalog's own cache root (index 0) stays.
        yield return new("Grace:Engine:CacheRoots:1", root);
        foreach (var (name, tier) in Entries())
        {
            var target = Path.Combine(root, name);
            Directory.CreateDirectory(target);
            // Something to clear: an empty folder would make the contract (bytes <= 0) hold before the action.
            File.WriteAllText(Path.Combine(target, "thumbnail.bin"), new string('x', 64 * 1024));
            yield return new($"Grace:Targets:{name}:Kind", "Directory");
            yield return new($"Grace:Targets:{name}:Path", target);
            yield return new($"Grace:Targets:{name}:Description", $"Benchmark thumbnail cache {name}");
            yield return new($"Grace:Patterns:{name}:Description", $"Thumbnail writes to {name} fail because its disk is full.");
            yield return new($"Grace:Patterns:{name}:MessageRegex", Message(name) + "$");
            yield return new($"Grace:Patterns:{name}:Playbooks:0", $"{Playbook}-{name}");
            yield return new($"Grace:Playbooks:{Playbook}-{name}:Title", $"Clear the thumbnail cache {name} (quarantined until verified)");
            yield return new($"Grace:Playbooks:{Playbook}-{name}:Action", "cache.clear");
            yield return new($"Grace:Playbooks:{Playbook}-{name}:Target", name);
            yield return new($"Grace:Playbooks:{Playbook}-{name}:Tier", tier.ToString(CultureInfo.InvariantCulture));
            yield return new($"Grace:Playbooks:{Playbook}-{name}:Contract:Probe", "directory.bytes");
            yield return new($"Grace:Playbooks:{Playbook}-{name}:Contract:Comparator", "LessThanOrEqual");
            yield return new($"Grace:Playbooks:{Playbook}-{name}:Contract:Threshold", "0");
            yield return new($"Grace:Playbooks:{Playbook}-{name}:Contract:DeadlineSeconds", "30");
        }
    }

    /// <summary>Sends one signal per seeded mission and waits until each mission ran or waits for approval.</summary>
    public async Task SeedAsync(GraceProcess grace, string apiKey, BenchDatabase database, TextWriter output)
    {
        if (Missions + Approvals == 0)
        {
            return;
        }

        using var api = new HttpClient { BaseAddress = grace.BaseAddress };
        api.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", apiKey);
        // Finished missions first, so "{first}" names one with a whole timeline.
        foreach (var (name, _) in Entries())
        {
            using var answer = await api.PostAsJsonAsync("api/signals", new[]
            {
                // A source of its own: the fingerprint would fold messages that differ only in a number into one incident.
                new { source = $"thumbnailer-{name}", message = $"Thumbnail write failed: {Message(name)}", severity = "Error" },
            });
            if (answer.StatusCode != System.Net.HttpStatusCode.Accepted)
            {
                throw new InvalidOperationException($"Seeding a mission on {name} failed: {(int)answer.StatusCode} {await answer.Content.ReadAsStringAsync()}");
            }

            // One at a time: the missions' creation order is the order "{first}" reads.
            await WaitAsync(database, m => m.Target == name, TimeSpan.FromSeconds(60), $"a mission on {name}");
        }

        await WaitAsync(database, m => m.State == MissionState.Succeeded, TimeSpan.FromSeconds(120), $"{Missions} finished missions", Missions);
        await WaitAsync(database, m => m.State == MissionState.AwaitingApproval, TimeSpan.FromSeconds(120), $"{Approvals} missions waiting for approval", Approvals);
        await using var db = database.Db();
        var states = await db.Missions.AsNoTracking().GroupBy(m => m.State).Select(g => new { g.Key, Count = g.Count() }).ToListAsync();
        output.WriteLine($"circuits: seeded missions: {string.Join(", ", states.Select(s => $"{s.Count} {s.Key}"))}");
    }

    /// <summary>
    /// The page to open, with <c>{first}</c> in <c>/missions/{first}</c> or <c>/incidents/{first}</c> replaced by the
    /// first seeded mission's id, or its incident's (the first incident stored when no mission was seeded).
    /// </summary>
    public static async Task<string> ResolveAsync(string page, BenchDatabase database)
    {
        if (!page.Contains("{first}", StringComparison.Ordinal))
        {
            return page;
        }

        await using var db = database.Db();
        var mission = (await db.Missions.AsNoTracking().Select(m => new { m.Id, m.IncidentId, m.CreatedAt }).ToListAsync())
            .OrderBy(m => m.CreatedAt).FirstOrDefault();
        Guid? id = page.StartsWith("/missions/", StringComparison.Ordinal)
            ? mission?.Id
            : mission?.IncidentId ?? (await db.Incidents.AsNoTracking().Select(i => new { i.Id, i.FirstSeenAt }).ToListAsync()).OrderBy(i => i.FirstSeenAt).FirstOrDefault()?.Id;
        return id is { } found
            ? page.Replace("{first}", found.ToString(), StringComparison.Ordinal)
            : throw new InvalidOperationException($"{page}: nothing to put in {{first}}; seed missions (--seed-missions, --seed-approvals) or incidents (--seed-incidents).");
    }

    private IEnumerable<(string Name, int Tier)> Entries() =>
        Enumerable.Range(0, Missions).Select(i => ($"bench-done-{i}", 0))
            .Concat(Enumerable.Range(0, Approvals).Select(i => ($"bench-wait-{i}", 2)));

    private static string Message(string name) => $"no space left for {name}";

    private static async Task WaitAsync(BenchDatabase database, System.Linq.Expressions.Expression<Func<Mission, bool>> which, TimeSpan timeout, string what, int count = 1)
    {
        for (var deadline = DateTime.UtcNow + timeout; ; await Task.Delay(200))
        {
            await using var db = database.Db();
            if (await db.Missions.AsNoTracking().CountAsync(which) >= count)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                var states = await db.Missions.AsNoTracking().Select(m => new { m.Target, m.State, m.StatusReason }).ToListAsync();
                throw new TimeoutException($"Waited {timeout.TotalSeconds:F0} s for {what}; missions: {string.Join("; ", states.Select(s => $"{s.Target} {s.State} {s.StatusReason}"))}");
            }
        }
    }
}
