using System.Text;
using System.Text.RegularExpressions;

namespace Grace.Engine.Learn.Mining;

/// <summary>One message the miner has seen: the incident it came from, how many signals that incident counts, and where it came from.</summary>
/// <param name="IncidentId">The unmatched incident.</param>
/// <param name="Message">Its concrete message (what a pattern's regex is tried against).</param>
/// <param name="Signals">How many signals the incident has folded so far.</param>
/// <param name="Source">The incident's source.</param>
/// <param name="ExceptionType">The incident's exception type, if any.</param>
/// <param name="SeenAt">When the incident was first seen.</param>
/// <param name="Severity">The incident's severity.</param>
public sealed record MinedMessage(Guid IncidentId, string Message, long Signals, string Source, string? ExceptionType, DateTimeOffset SeenAt,
    Grace.Data.Entities.Severity Severity = Grace.Data.Entities.Severity.Error);

/// <summary>A group of messages that share one template: what a suggested pattern is made from.</summary>
public sealed class MinedCluster
{
    private readonly Dictionary<Guid, MinedMessage> _members = [];

    internal MinedCluster(Guid seed, string[] template)
    {
        Seed = seed;
        Template = template;
    }

    /// <summary>The incident that started the cluster: its stable identity (a rebuild in first-seen order starts it again from the same incident).</summary>
    public Guid Seed { get; }

    /// <summary>The template's tokens: literal text, with <see cref="TemplateMiner.Wildcard"/> where members differ (or a variable was masked).</summary>
    internal string[] Template { get; private set; }

    /// <summary>The template as text, tokens separated by single spaces.</summary>
    public string TemplateText => string.Join(' ', Template);

    /// <summary>The incidents in the cluster, each once (a reopened incident is fed again and updates its signal count).</summary>
    public IReadOnlyCollection<MinedMessage> Members => _members.Values;

    /// <summary>Incidents covered.</summary>
    public int IncidentCount => _members.Count;

    /// <summary>Signals covered: the sum of the incidents' counts.</summary>
    public long SignalCount => _members.Values.Sum(m => m.Signals);

    /// <summary>The most common source among the members (ties: the alphabetically first).</summary>
    public string Source => MostCommon(_members.Values.Select(m => m.Source))!;

    /// <summary>The most common exception type among the members that have one, or null.</summary>
    public string? ExceptionType => MostCommon(_members.Values.Where(m => m.ExceptionType is { Length: > 0 }).Select(m => m.ExceptionType!));

    /// <summary>The lowest severity among the members: a pattern made from the cluster must accept every one of them.</summary>
    public Grace.Data.Entities.Severity MinimumSeverity => _members.Values.Min(m => m.Severity);

    /// <summary>When the earliest member was first seen.</summary>
    public DateTimeOffset FirstSeenAt => _members.Values.Min(m => m.SeenAt);

    /// <summary>True when every member shares <see cref="Source"/>.</summary>
    public bool SourceShared => _members.Values.Select(m => m.Source).Distinct(StringComparer.Ordinal).Count() == 1;

    /// <summary>True when every member has <see cref="ExceptionType"/>.</summary>
    public bool ExceptionTypeShared => ExceptionType is { } t && _members.Values.All(m => string.Equals(m.ExceptionType, t, StringComparison.Ordinal));

    /// <summary>
    /// The proposed message regex: anchored, literal text escaped, each variable part a non-greedy
    /// group, tokens joined by any run of white space. It matches every member's message (the
    /// template only ever replaces text with wildcards, so every member is an instance of it).
    /// </summary>
    public string Regex => TemplateMiner.RegexFor(Template);

    internal void Add(MinedMessage message, string[] tokens)
    {
        _members[message.IncidentId] = message;
        if (_members.Count == 1)
        {
            return;
        }

        var merged = new string[Template.Length];
        for (var i = 0; i < Template.Length; i++)
        {
            merged[i] = Template[i] == tokens[i] ? Template[i] : TemplateMiner.MergeToken(Template[i], tokens[i]);
        }

        Template = merged;
    }

    internal bool Remove(Guid incidentId) => _members.Remove(incidentId);

    private static string? MostCommon(IEnumerable<string> values) => values
        .GroupBy(v => v, StringComparer.Ordinal)
        .OrderByDescending(g => g.Count())
        .ThenBy(g => g.Key, StringComparer.Ordinal)
        .Select(g => g.Key)
        .FirstOrDefault();
}

/// <summary>How the miner groups messages.</summary>
public sealed record MinerSettings
{
    /// <summary>How many leading tokens route a message down the tree after its token count (Drain's depth minus two).</summary>
    public int PrefixDepth { get; init; } = 2;

    /// <summary>The share of positions that must agree with a cluster's template for a message to join it.</summary>
    public double SimilarityThreshold { get; init; } = 0.5;

    /// <summary>Clusters kept per leaf of the tree; beyond it a new message starts no new cluster (it joins the most similar).</summary>
    public int MaxClustersPerLeaf { get; init; } = 100;

    /// <summary>Messages longer than this many tokens are cut: a stack trace is not a template.</summary>
    public int MaxTokens { get; init; } = 64;
}

/// <summary>
/// A streaming log-template miner after the idea of Drain (He et al., 2017), written for Grace:
/// a message is split into tokens and its variable parts (numbers, hex ids, GUIDs, addresses,
/// paths, quoted strings, durations, timestamps) are masked; a fixed-depth tree routes it by its
/// token count and its first literal tokens to a short list of clusters; it joins the most similar
/// one when enough positions agree, and the template keeps a wildcard wherever members differ.
/// Each step costs a few dictionary lookups and one pass over a handful of templates, so feeding
/// it on the planning path is cheap. Not thread-safe: callers serialise access.
/// </summary>
public sealed class TemplateMiner(MinerSettings? settings = null)
{
    /// <summary>The wildcard token of a template.</summary>
    public const string Wildcard = "<*>";

    private readonly MinerSettings _settings = settings ?? new MinerSettings();
    private readonly Dictionary<int, Node> _byLength = [];
    private readonly Dictionary<Guid, MinedCluster> _clusterOf = [];
    private readonly List<MinedCluster> _clusters = [];

    /// <summary>Every cluster, in the order they were started.</summary>
    public IReadOnlyList<MinedCluster> Clusters => _clusters;

    /// <summary>Feeds one message; returns the cluster it joined (or started). An incident fed again stays in its cluster.</summary>
    public MinedCluster Add(MinedMessage message)
    {
        var tokens = Mask(message.Message, _settings.MaxTokens);
        if (_clusterOf.TryGetValue(message.IncidentId, out var known))
        {
            // A reopened incident: its count moves; its message may be a new instance of the same template.
            if (known.Template.Length == tokens.Length)
            {
                known.Add(message, tokens);
                return known;
            }

            known.Remove(message.IncidentId);
            _clusterOf.Remove(message.IncidentId);
        }

        var leaf = LeafFor(tokens);
        var best = (Cluster: (MinedCluster?)null, Score: -1.0, Wildcards: -1);
        foreach (var cluster in leaf.Clusters)
        {
            var (score, wildcards) = Similarity(cluster.Template, tokens);
            if (score > best.Score || (score == best.Score && wildcards > best.Wildcards))
            {
                best = (cluster, score, wildcards);
            }
        }

        MinedCluster target;
        if (best.Cluster is not null && (best.Score >= _settings.SimilarityThreshold || leaf.Clusters.Count >= _settings.MaxClustersPerLeaf))
        {
            target = best.Cluster;
        }
        else
        {
            target = new MinedCluster(message.IncidentId, tokens);
            leaf.Clusters.Add(target);
            _clusters.Add(target);
        }

        target.Add(message, tokens);
        _clusterOf[message.IncidentId] = target;
        return target;
    }

    /// <summary>The cluster an incident is in, if the miner has seen it.</summary>
    public MinedCluster? ClusterOf(Guid incidentId) => _clusterOf.GetValueOrDefault(incidentId);

    private Leaf LeafFor(string[] tokens)
    {
        if (!_byLength.TryGetValue(tokens.Length, out var node))
        {
            _byLength[tokens.Length] = node = new Node();
        }

        var depth = Math.Min(_settings.PrefixDepth, tokens.Length);
        for (var i = 0; i < depth; i++)
        {
            // A token that holds a variable must not split the tree: its messages would never meet.
            var key = tokens[i].Contains(Wildcard, StringComparison.Ordinal) ? Wildcard : tokens[i];
            if (!node.Children.TryGetValue(key, out var child))
            {
                node.Children[key] = child = new Node();
            }

            node = child;
        }

        return node.Leaf ??= new Leaf();
    }

    /// <summary>Share of positions where the template's token equals the message's (a wildcard counts as agreeing with anything only for tie-breaks).</summary>
    private static (double Score, int Wildcards) Similarity(string[] template, string[] tokens)
    {
        if (template.Length == 0)
        {
            return (1, 0);
        }

        var same = 0;
        var wildcards = 0;
        for (var i = 0; i < template.Length; i++)
        {
            if (template[i] == Wildcard)
            {
                wildcards++;
            }
            else if (template[i] == tokens[i])
            {
                same++;
            }
        }

        // Drain's measure: wildcards do not count as agreement, so a template full of them does not swallow everything;
        // the positions the message's own masking already made variable are left out of both sides.
        var variable = 0;
        for (var i = 0; i < template.Length; i++)
        {
            if (template[i] == Wildcard && tokens[i] == Wildcard)
            {
                variable++;
            }
        }

        var counted = template.Length - variable;
        return (counted == 0 ? 1 : (double)same / counted, wildcards);
    }

    /// <summary>Two different tokens at one position: the literal text they share around one wildcard, or a whole wildcard.</summary>
    internal static string MergeToken(string a, string b)
    {
        if (a == Wildcard || b == Wildcard)
        {
            return Wildcard;
        }

        // "pid=<*>" and "pid=12": keep the shared prefix and suffix only when it leaves one wildcard in the middle.
        var prefix = 0;
        while (prefix < a.Length && prefix < b.Length && a[prefix] == b[prefix])
        {
            prefix++;
        }

        var suffix = 0;
        while (suffix < a.Length - prefix && suffix < b.Length - prefix && a[^(suffix + 1)] == b[^(suffix + 1)])
        {
            suffix++;
        }

        // Never cut inside a wildcard marker.
        var head = a[..prefix];
        var tail = a[(a.Length - suffix)..];
        head = TrimPartialWildcard(head, fromEnd: true);
        tail = TrimPartialWildcard(tail, fromEnd: false);
        if (head.Length + tail.Length == 0 || !IsBoundary(head, tail))
        {
            return Wildcard;
        }

        return head + Wildcard + tail;
    }

    private static string TrimPartialWildcard(string part, bool fromEnd)
    {
        if (fromEnd)
        {
            var open = part.LastIndexOf('<');
            return open >= 0 && !part[open..].StartsWith(Wildcard, StringComparison.Ordinal) ? part[..open] : part;
        }

        var close = part.IndexOf('>', StringComparison.Ordinal);
        return close >= 0 && !part[..(close + 1)].EndsWith(Wildcard, StringComparison.Ordinal) ? part[(close + 1)..] : part;
    }

    /// <summary>Keeps literal text only up to punctuation ("pid=", ":", "(") so a wildcard never splits a word in two.</summary>
    private static bool IsBoundary(string head, string tail) =>
        (head.Length == 0 || !char.IsLetterOrDigit(head[^1])) && (tail.Length == 0 || !char.IsLetterOrDigit(tail[0]));

    /// <summary>
    /// Splits a message into tokens (white space outside quotes; a quoted string is one token) and
    /// masks the variable ones: whole tokens that are numbers, durations, sizes, hex ids, GUIDs,
    /// IP addresses and host:port pairs, paths, URLs, quoted strings and timestamps; inside a token,
    /// the value after <c>=</c> or <c>:</c>.
    /// </summary>
    public static string[] Mask(string message, int maxTokens = 64)
    {
        var tokens = Tokenize(message, maxTokens);
        for (var i = 0; i < tokens.Count && !(i == maxTokens - 1 && tokens[i] == Wildcard); i++)
        {
            tokens[i] = MaskToken(tokens[i]);
        }

        return [.. tokens];
    }

    private static List<string> Tokenize(string message, int maxTokens)
    {
        var tokens = new List<string>();
        var current = new StringBuilder();
        char? quote = null;
        foreach (var c in message)
        {
            if (quote is { } q)
            {
                current.Append(c);
                if (c == q)
                {
                    quote = null;
                }

                continue;
            }

            if (char.IsWhiteSpace(c))
            {
                Flush();
                continue;
            }

            if ((c == '"' || c == '\'') && current.Length == 0)
            {
                quote = c;
            }

            current.Append(c);
        }

        Flush();
        if (tokens.Count > maxTokens)
        {
            // The rest of a long message (a stack trace) is one variable tail, so the regex still matches all of it.
            tokens.RemoveRange(maxTokens - 1, tokens.Count - maxTokens + 1);
            tokens.Add(Wildcard);
        }

        return tokens;

        void Flush()
        {
            if (current.Length > 0)
            {
                tokens.Add(current.ToString());
            }

            current.Clear();
        }
    }

    // Whole-token shapes of a variable. Punctuation around the token (a trailing comma, brackets) is kept literal.
    private static readonly Regex[] VariableShapes =
    [
        // Quoted strings: names, file names, SQL.
        new(@"^(""[^""]*""|'[^']*')$", RegexOptions.CultureInvariant),
        // ISO timestamps and dates, clock times.
        new(@"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$", RegexOptions.CultureInvariant),
        new(@"^\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$", RegexOptions.CultureInvariant),
        // GUIDs.
        new(@"^\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?$", RegexOptions.CultureInvariant),
        // URLs.
        new(@"^[a-zA-Z][a-zA-Z0-9+.-]*://\S+$", RegexOptions.CultureInvariant),
        // IPv4 and IPv6 addresses, with an optional port; host:port.
        new(@"^\d{1,3}(\.\d{1,3}){3}(:\d+)?$", RegexOptions.CultureInvariant),
        new(@"^\[?[0-9a-fA-F]{0,4}(:[0-9a-fA-F]{0,4}){2,7}\]?(:\d+)?$", RegexOptions.CultureInvariant),
        new(@"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9-]+)*:\d{1,5}$", RegexOptions.CultureInvariant),
        // Dotted host names (two dots or more: db-1.prod.internal), not Namespace.Type names with capitals.
        new(@"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9-]+){2,}$", RegexOptions.CultureInvariant),
        // Paths: unix, windows.
        new(@"^(~|\.{1,2})?/[^\s]*$", RegexOptions.CultureInvariant),
        new(@"^[A-Za-z]:\\[^\s]*$", RegexOptions.CultureInvariant),
        // Hex: 0x-prefixed, or long runs of hex digits with at least one digit (commit ids, trace ids, hashes).
        new(@"^0[xX][0-9a-fA-F]+$", RegexOptions.CultureInvariant),
        new(@"^(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{8,}$", RegexOptions.CultureInvariant),
        // Numbers, with a unit (durations, sizes, percentages): 42, -3.5, 1,024, 250ms, 30s, 4.2GB, 97%.
        new(@"^[-+]?\d[\d,_]*(\.\d+)?([eE][-+]?\d+)?([a-zA-Zµ]{1,3}|%)?$", RegexOptions.CultureInvariant),
        // Identifiers made of letters with digits in them after a separator: pod-7f9c, worker_12, job#123.
        new(@"^[A-Za-z]+[-_#]\w*\d\w*$", RegexOptions.CultureInvariant),
    ];

    private static readonly Regex KeyValue = new(@"^(?<key>[A-Za-z_][\w.-]*[=:])(?<value>.+)$", RegexOptions.CultureInvariant);

    private const string Leading = "([{<";
    private const string Trailing = ")]}>,;.!?:";

    /// <summary>Masks one token: keeps surrounding punctuation, replaces a variable core (or a key=value's value) with the wildcard.</summary>
    internal static string MaskToken(string token)
    {
        var start = 0;
        var end = token.Length;
        // A quoted token keeps its quotes inside the variable: they belong to the value.
        if (token.Length > 1 && (token[0] == '"' || token[0] == '\'') && token[^1] == token[0])
        {
            return Wildcard;
        }

        while (start < end && Leading.Contains(token[start], StringComparison.Ordinal))
        {
            start++;
        }

        while (end > start && Trailing.Contains(token[end - 1], StringComparison.Ordinal))
        {
            // "10.0.0.1:5432," keeps the port; a trailing colon after a word ("error:") is punctuation.
            end--;
        }

        if (start == end)
        {
            return token;
        }

        var core = token[start..end];
        if (IsVariable(core))
        {
            return token[..start] + Wildcard + token[end..];
        }

        if (KeyValue.Match(core) is { Success: true } kv && IsVariable(kv.Groups["value"].Value.TrimEnd(Trailing.ToCharArray())))
        {
            var value = kv.Groups["value"].Value;
            var kept = value.Length - value.TrimEnd(Trailing.ToCharArray()).Length;
            return token[..start] + kv.Groups["key"].Value + Wildcard + value[(value.Length - kept)..] + token[end..];
        }

        return token;
    }

    private static bool IsVariable(string core) => core.Length > 0 && VariableShapes.Any(shape => shape.IsMatch(core));

    /// <summary>The anchored regex of a template: literal text escaped, every wildcard a non-greedy group, tokens joined by white space.</summary>
    public static string RegexFor(IReadOnlyList<string> template)
    {
        var builder = new StringBuilder("^\\s*");
        for (var i = 0; i < template.Count; i++)
        {
            if (i > 0)
            {
                builder.Append("\\s+");
            }

            var parts = template[i].Split(Wildcard);
            for (var p = 0; p < parts.Length; p++)
            {
                if (p > 0)
                {
                    // A whole-token wildcard may hold spaces (a quoted string); one inside a token may not.
                    builder.Append(template[i] == Wildcard ? "(.+?)" : "(\\S+?)");
                }

                builder.Append(System.Text.RegularExpressions.Regex.Escape(parts[p]));
            }
        }

        return builder.Append("\\s*$").ToString();
    }

    private sealed class Node
    {
        public Dictionary<string, Node> Children { get; } = new(StringComparer.Ordinal);

        public Leaf? Leaf { get; set; }
    }

    private sealed class Leaf
    {
        public List<MinedCluster> Clusters { get; } = [];
    }
}
