using System.Text.RegularExpressions;
using Grace.Engine.Learn.Mining;

namespace Grace.Tests.Unit;

/// <summary>
/// Issue 15: the template miner on message families as real systems write them. Each family must
/// become exactly one cluster, families must not merge, and each proposed regex must match every
/// variant of its family and no message of any other.
/// </summary>
public sealed class TemplateMinerTests
{
    /// <summary>Family name → variants (different hosts, ids, numbers, paths; the same problem).</summary>
    public static readonly IReadOnlyDictionary<string, string[]> Families = new Dictionary<string, string[]>
    {
        ["connection refused"] =
        [
            "Connection refused to db-primary.prod.internal:5432 after 3 attempts",
            "Connection refused to 10.0.4.21:6379 after 1 attempts",
            "Connection refused to cache-2:11211 after 5 attempts",
            "Connection refused to [fe80::1]:8080 after 2 attempts",
        ],
        ["timeout"] =
        [
            "Request to inventory timed out after 30000 ms (attempt 1 of 3)",
            "Request to payments timed out after 5000 ms (attempt 3 of 3)",
            "Request to shipping timed out after 250 ms (attempt 2 of 5)",
            "Request to inventory timed out after 12000 ms (attempt 1 of 2)",
        ],
        ["disk full"] =
        [
            "No space left on device: write failed for /var/lib/postgresql/15/main/pg_wal/000000010000000A000000FE",
            "No space left on device: write failed for /data/kafka/orders-3/00000000000000012345.log",
            "No space left on device: write failed for /tmp/upload-7f3a.part",
            "No space left on device: write failed for /var/log/nginx/access.log",
        ],
        ["oom killed"] =
        [
            "Out of memory: Killed process 31877 (java) total-vm:8123456kB, anon-rss:4023456kB",
            "Out of memory: Killed process 402 (node) total-vm:2123456kB, anon-rss:1023456kB",
            "Out of memory: Killed process 9911 (python3) total-vm:612345kB, anon-rss:512345kB",
            "Out of memory: Killed process 12 (dotnet) total-vm:3123456kB, anon-rss:2923456kB",
        ],
        ["deadlock victim"] =
        [
            "Transaction (Process ID 73) was deadlocked on lock resources with another process and has been chosen as the deadlock victim. Rerun the transaction.",
            "Transaction (Process ID 112) was deadlocked on lock resources with another process and has been chosen as the deadlock victim. Rerun the transaction.",
            "Transaction (Process ID 5) was deadlocked on lock resources with another process and has been chosen as the deadlock victim. Rerun the transaction.",
            "Transaction (Process ID 1024) was deadlocked on lock resources with another process and has been chosen as the deadlock victim. Rerun the transaction.",
        ],
        ["certificate expired"] =
        [
            "TLS handshake failed: certificate expired for api.partner.example.com (not after 2026-11-01T00:00:00Z)",
            "TLS handshake failed: certificate expired for login.corp.example.org (not after 2026-10-15T12:30:00Z)",
            "TLS handshake failed: certificate expired for 10.2.3.4 (not after 2025-01-31T23:59:59Z)",
            "TLS handshake failed: certificate expired for mail.example.net (not after 2026-06-30T00:00:00Z)",
        ],
        ["upstream 503"] =
        [
            "upstream responded 503 Service Unavailable for GET /api/stock/8812 in 1.2s",
            "upstream responded 503 Service Unavailable for POST /api/orders in 0.4s",
            "upstream responded 503 Service Unavailable for GET /health in 12ms",
            "upstream responded 503 Service Unavailable for PUT /api/cart/77/items in 3s",
        ],
        ["null reference"] =
        [
            "Object reference not set to an instance of an object. at Orders.Api.CheckoutController.Post(cartId=8812)",
            "Object reference not set to an instance of an object. at Orders.Api.CheckoutController.Post(cartId=9)",
            "Object reference not set to an instance of an object. at Orders.Api.CheckoutController.Post(cartId=1203)",
            "Object reference not set to an instance of an object. at Orders.Api.CheckoutController.Post(cartId=77)",
        ],
        ["too many open files"] =
        [
            "accept tcp [::]:8080: accept4: too many open files; retrying in 5ms",
            "accept tcp 0.0.0.0:443: accept4: too many open files; retrying in 10ms",
            "accept tcp 127.0.0.1:9090: accept4: too many open files; retrying in 1s",
            "accept tcp [::]:80: accept4: too many open files; retrying in 20ms",
        ],
        ["lock wait timeout"] =
        [
            "Lock wait timeout exceeded; try restarting transaction (table 'orders', thread 4412, waited 50 s)",
            "Lock wait timeout exceeded; try restarting transaction (table 'payments', thread 17, waited 50 s)",
            "Lock wait timeout exceeded; try restarting transaction (table 'stock_levels', thread 990, waited 120 s)",
            "Lock wait timeout exceeded; try restarting transaction (table 'orders', thread 5, waited 5 s)",
        ],
        ["dns failure"] =
        [
            "getaddrinfo ENOTFOUND payments.svc.cluster.local while resolving upstream, request id 7c9e6679-7425-40de-944b-e07fc1f90ae7",
            "getaddrinfo ENOTFOUND auth.svc.cluster.local while resolving upstream, request id 0b1e2f3a-1111-4abc-9def-123456789abc",
            "getaddrinfo ENOTFOUND db.internal.example.com while resolving upstream, request id 9f8e7d6c-5b4a-4321-8fed-cba987654321",
            "getaddrinfo ENOTFOUND redis.cache.local while resolving upstream, request id 11111111-2222-4333-8444-555555555555",
        ],
        ["pool exhausted"] =
        [
            "Timeout expired. The timeout period elapsed prior to obtaining a connection from the pool. Max pool size 100 reached, 100 in use.",
            "Timeout expired. The timeout period elapsed prior to obtaining a connection from the pool. Max pool size 50 reached, 50 in use.",
            "Timeout expired. The timeout period elapsed prior to obtaining a connection from the pool. Max pool size 200 reached, 200 in use.",
            "Timeout expired. The timeout period elapsed prior to obtaining a connection from the pool. Max pool size 20 reached, 20 in use.",
        ],
        ["worker crash"] =
        [
            "worker worker-3 exited with code 137 after 4512 s; restarting (restart #2)",
            "worker worker-11 exited with code 1 after 12 s; restarting (restart #7)",
            "worker ingest_2 exited with code 139 after 88 s; restarting (restart #1)",
            "worker worker-0 exited with code 143 after 1 s; restarting (restart #12)",
        ],
    };

    private static readonly RegexOptions SentinelOptions = RegexOptions.IgnoreCase | RegexOptions.CultureInvariant;

    /// <summary>Feeds the families interleaved (as they would arrive), variant by variant.</summary>
    private static (TemplateMiner Miner, Dictionary<Guid, string> FamilyOf) Mine()
    {
        var miner = new TemplateMiner();
        var familyOf = new Dictionary<Guid, string>();
        var at = DateTimeOffset.Parse("2026-11-30T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture);
        var rounds = Families.Values.Max(v => v.Length);
        for (var round = 0; round < rounds; round++)
        {
            foreach (var (family, variants) in Families)
            {
                if (round < variants.Length)
                {
                    var id = Guid.NewGuid();
                    familyOf[id] = family;
                    miner.Add(new MinedMessage(id, variants[round], round + 1, $"app.{family.Replace(' ', '-')}", null, at.AddMinutes(round)));
                }
            }
        }

        return (miner, familyOf);
    }

    [Fact]
    public void TheTableHasAtLeastTenFamiliesOfSeveralVariants()
    {
        Assert.True(Families.Count >= 10);
        Assert.All(Families.Values, variants => Assert.True(variants.Length >= 3));
    }

    [Fact]
    public void EachFamilyBecomesExactlyOneClusterAndFamiliesDoNotMerge()
    {
        var (miner, familyOf) = Mine();
        var report = string.Join("\n", miner.Clusters.Select(c => $"{c.IncidentCount}: {c.TemplateText}"));
        foreach (var cluster in miner.Clusters)
        {
            // Families do not merge: every cluster holds one family only.
            Assert.True(cluster.Members.Select(m => familyOf[m.IncidentId]).Distinct().Count() == 1, $"A cluster mixes families: {cluster.TemplateText}\n{report}");
        }

        foreach (var (family, variants) in Families)
        {
            // Each family is one cluster: all its variants together.
            var clusters = miner.Clusters.Where(c => c.Members.Any(m => familyOf[m.IncidentId] == family)).ToList();
            Assert.True(clusters.Count == 1, $"Family '{family}' was split into {clusters.Count} clusters:\n{report}");
            Assert.Equal(variants.Length, clusters[0].IncidentCount);
        }

        Assert.Equal(Families.Count, miner.Clusters.Count);
    }

    [Fact]
    public void EachRegexMatchesAllOfItsFamilyAndNoneOfTheOthers()
    {
        var (miner, familyOf) = Mine();
        foreach (var cluster in miner.Clusters)
        {
            var family = familyOf[cluster.Members.First().IncidentId];
            var regex = new Regex(cluster.Regex, SentinelOptions, TimeSpan.FromSeconds(1));
            foreach (var variant in Families[family])
            {
                Assert.True(regex.IsMatch(variant), $"'{cluster.Regex}' ({family}) does not match its own variant: {variant}");
            }

            foreach (var (other, variants) in Families.Where(f => f.Key != family))
            {
                foreach (var variant in variants)
                {
                    Assert.False(regex.IsMatch(variant), $"'{cluster.Regex}' ({family}) matches a message of '{other}': {variant}");
                }
            }
        }
    }

    [Fact]
    public void VariablePartsBecomeWildcardsAndWordsStay()
    {
        var (miner, familyOf) = Mine();
        var refused = miner.Clusters.Single(c => familyOf[c.Seed] == "connection refused");
        Assert.Equal("Connection refused to <*> after <*> attempts", refused.TemplateText);
        var oom = miner.Clusters.Single(c => familyOf[c.Seed] == "oom killed");
        Assert.Equal("Out of memory: Killed process <*> (<*>) total-vm:<*>, anon-rss:<*>", oom.TemplateText);
    }

    [Theory]
    [InlineData("took 250ms", "took <*>")]
    [InlineData("id 7c9e6679-7425-40de-944b-e07fc1f90ae7.", "id <*>.")]
    [InlineData("at 2026-11-24T03:12:45.118Z", "at <*>")]
    [InlineData("from 10.0.0.7:5432,", "from <*>,")]
    [InlineData("opening '/var/data/my file.db'", "opening <*>")]
    [InlineData("commit 9f8e7d6c5b4a", "commit <*>")]
    [InlineData("pid=4412 done", "pid=<*> done")]
    [InlineData("read C:\\data\\x.txt", "read <*>")]
    [InlineData("addr 0x7ffd3a2c", "addr <*>")]
    [InlineData("Int32 is fine", "Int32 is fine")]
    public void MaskingFoldsVariablesAndKeepsWords(string message, string expected) =>
        Assert.Equal(expected, string.Join(' ', TemplateMiner.Mask(message)));

    [Fact]
    public void ARegexWithQuotedStringsAndLongMessagesStillMatchesEveryMember()
    {
        var miner = new TemplateMiner(new MinerSettings { MaxTokens = 8 });
        var messages = new[]
        {
            "Failed to open \"orders archive.db\" for writing: permission denied at step one two three four five",
            "Failed to open \"x.db\" for writing: permission denied at step six",
            "Failed to open 'stock levels' for writing: permission denied",
        };
        var at = DateTimeOffset.UnixEpoch;
        foreach (var m in messages)
        {
            miner.Add(new MinedMessage(Guid.NewGuid(), m, 1, "s", null, at));
        }

        foreach (var cluster in miner.Clusters)
        {
            Assert.All(cluster.Members, m => Assert.Matches(new Regex(cluster.Regex, SentinelOptions), m.Message));
        }
    }

    [Fact]
    public void AnIncidentFedAgainIsCountedOnceWithItsNewSignalCount()
    {
        var miner = new TemplateMiner();
        var id = Guid.NewGuid();
        var at = DateTimeOffset.UnixEpoch;
        miner.Add(new MinedMessage(id, "Connection refused to a:1 after 1 attempts", 3, "s", "System.Net.Sockets.SocketException", at));
        var cluster = miner.Add(new MinedMessage(id, "Connection refused to b:2 after 2 attempts", 10, "s", "System.Net.Sockets.SocketException", at));
        miner.Add(new MinedMessage(Guid.NewGuid(), "Connection refused to c:3 after 2 attempts", 5, "t", null, at));
        Assert.Single(miner.Clusters);
        Assert.Equal(2, cluster.IncidentCount);
        Assert.Equal(15, cluster.SignalCount);
        Assert.Equal("System.Net.Sockets.SocketException", cluster.ExceptionType);
        Assert.False(cluster.ExceptionTypeShared);
        Assert.False(cluster.SourceShared);
        Assert.Equal("s", cluster.Source);
    }
}
