using System.Collections.Concurrent;

namespace Grace.Web.Components.Shared;

/// <summary>
/// One copy of a long string that many circuits build alike: the first circuit's copy is remembered (weakly) by
/// its content, and every later circuit that builds the same text gets that copy and drops its own.
/// </summary>
/// <remarks>
/// Why (issue 13): a list row is written once per circuit as one HTML string (<see cref="RowMarkup"/>, ≈ 2.8 KB
/// in UTF-16), so 200 tabs on the incidents list held 200 copies of the same 50 rows, ≈ 140 KB per tab. People
/// watching one console look at the same rows. The copy is only shared when the text is equal, character for
/// character, so a circuit gets exactly what it built, and nothing keeps a string alive once no page shows it:
/// the table holds weak references, found by hash and length; entries whose string was collected are swept
/// every <see cref="SweepEvery"/> additions. A hash collision between different texts just means no sharing.
/// </remarks>
public static class SharedText
{
    private const int SweepEvery = 4096;

    private static readonly ConcurrentDictionary<(int Hash, int Length), WeakReference<string>> Known = new();
    private static int _added;

    /// <summary>The copy of <paramref name="text"/> already in use, or <paramref name="text"/> itself, remembered from now on.</summary>
    public static string Share(string text)
    {
        var key = (string.GetHashCode(text, StringComparison.Ordinal), text.Length);
        if (Known.TryGetValue(key, out var known) && known.TryGetTarget(out var shared))
        {
            return string.Equals(shared, text, StringComparison.Ordinal) ? shared : text;
        }

        // Absent, or its string was collected: this copy becomes the shared one (a race with another circuit only
        // costs a copy that is not shared).
        Known[key] = new WeakReference<string>(text);
        if (Interlocked.Increment(ref _added) % SweepEvery == 0)
        {
            Sweep();
        }

        return text;
    }

    /// <summary>How many texts are remembered now (tests).</summary>
    internal static int Count => Known.Count;

    private static void Sweep()
    {
        foreach (var entry in Known)
        {
            if (!entry.Value.TryGetTarget(out _))
            {
                Known.TryRemove(entry);
            }
        }
    }
}
