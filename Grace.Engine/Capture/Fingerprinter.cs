using System.Buffers;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace Grace.Engine.Capture;

/// <summary>
/// Groups repeats of one problem: the message template where the source is structured, else the
/// message with its variable parts (timestamps, GUIDs, IP addresses, hex ids, numbers) folded into
/// placeholders, plus the exception type and the source.
/// </summary>
/// <remarks>
/// Normalisation is one hand-written pass over the message (no regular expressions), written into a
/// buffer on the stack, and the fingerprint of a (source, exception type, template) text is cached
/// and looked up by that buffer: a storm repeats the same few texts, so most signals cost one pass
/// and a dictionary lookup, and allocate nothing (at 100,000 signals/s, every byte per signal is
/// 100 KB/s more for the collector, whose pauses stop the whole process).
/// </remarks>
public static class Fingerprinter
{
    private const int CacheLimit = 50_000;

    // Keyed by the text that is hashed: source, '\n', exception type, '\n', template.
    private static readonly ConcurrentDictionary<string, string> Cache = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> CacheBySpan = Cache.GetAlternateLookup<ReadOnlySpan<char>>();

    public static string TemplateOf(Signal signal) =>
        !string.IsNullOrWhiteSpace(signal.MessageTemplate) ? signal.MessageTemplate : Normalize(signal.Message);

    public static string Compute(Signal signal)
    {
        var text = new TextBuffer(stackalloc char[512]);
        try
        {
            var templateStart = Prefix(ref text, signal.Source, signal.ExceptionType);
            if (!string.IsNullOrWhiteSpace(signal.MessageTemplate))
            {
                text.Append(signal.MessageTemplate);
            }
            else
            {
                NormalizeInto(signal.Message, ref text);
                text.TrimEndFrom(templateStart);
            }

            return Lookup(text.Written);
        }
        finally
        {
            text.Dispose();
        }
    }

    public static string Compute(string source, string? exceptionType, string template)
    {
        var text = new TextBuffer(stackalloc char[512]);
        try
        {
            Prefix(ref text, source, exceptionType);
            text.Append(template);
            return Lookup(text.Written);
        }
        finally
        {
            text.Dispose();
        }
    }

    /// <summary>Folds the variable parts of a message so that repeats compare equal; words stay.</summary>
    public static string Normalize(string message)
    {
        var text = new TextBuffer(stackalloc char[512]);
        try
        {
            NormalizeInto(message, ref text);
            text.TrimEndFrom(0);
            return text.Written.ToString();
        }
        finally
        {
            text.Dispose();
        }
    }

    /// <summary>Writes the source and exception type that open the hashed text; returns where the template starts.</summary>
    private static int Prefix(ref TextBuffer text, string source, string? exceptionType)
    {
        text.Append(source);
        text.Append('\n');
        text.Append(exceptionType);
        text.Append('\n');
        return text.Length;
    }

    private static string Lookup(ReadOnlySpan<char> text)
    {
        if (CacheBySpan.TryGetValue(text, out var cached))
        {
            return cached;
        }

        // A text not seen before (or forgotten): hashed once, then served from the cache.
        var key = text.ToString();
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(key), hash);
        var fingerprint = Convert.ToHexStringLower(hash[..16]);
        if (Cache.Count >= CacheLimit)
        {
            // Many distinct templates: start over rather than grow without bound.
            Cache.Clear();
        }

        Cache.TryAdd(key, fingerprint);
        return fingerprint;
    }

    private static void NormalizeInto(string message, ref TextBuffer output)
    {
        var s = message.AsSpan();
        var i = 0;
        var lastWasSpace = true;
        while (i < s.Length)
        {
            var c = s[i];
            if (char.IsWhiteSpace(c))
            {
                if (!lastWasSpace)
                {
                    output.Append(' ');
                    lastWasSpace = true;
                }

                i++;
                continue;
            }

            lastWasSpace = false;
            var atWordStart = i == 0 || !IsWordChar(s[i - 1]);
            int length;
            if (!atWordStart)
            {
                output.Append(c);
                length = 1;
            }
            else if ((length = Timestamp(s[i..])) > 0)
            {
                output.Append("<ts>");
            }
            else if ((length = Guid(s[i..])) > 0)
            {
                output.Append("<guid>");
            }
            else if ((length = IPv4(s[i..])) > 0)
            {
                output.Append("<ip>");
            }
            else if ((length = Hex(s[i..])) > 0)
            {
                output.Append("<hex>");
            }
            else if ((length = Number(s[i..])) > 0)
            {
                output.Append("<n>");
            }
            else if (IsWordChar(c))
            {
                // A word with letters in it ("Int32", "40P01", "4823444kB") is kept whole: words carry meaning.
                length = 1;
                while (i + length < s.Length && IsWordChar(s[i + length]))
                {
                    length++;
                }

                output.Append(s.Slice(i, length));
            }
            else
            {
                output.Append(c);
                length = 1;
            }

            i += length;
        }
    }

    /// <summary>
    /// Characters written into a buffer on the stack, moving to a pooled array when a long message
    /// outgrows it (a placeholder can be longer than what it replaces: "5" becomes "&lt;n&gt;").
    /// </summary>
    private ref struct TextBuffer(Span<char> initial)
    {
        private Span<char> _chars = initial;
        private char[]? _rented;

        public int Length { get; private set; }

        public readonly ReadOnlySpan<char> Written => _chars[..Length];

        public void Append(char c)
        {
            if (Length == _chars.Length)
            {
                Grow(1);
            }

            _chars[Length++] = c;
        }

        public void Append(scoped ReadOnlySpan<char> text)
        {
            if (Length + text.Length > _chars.Length)
            {
                Grow(text.Length);
            }

            text.CopyTo(_chars[Length..]);
            Length += text.Length;
        }

        /// <summary>Drops trailing white space written at or after <paramref name="start"/>.</summary>
        public void TrimEndFrom(int start)
        {
            while (Length > start && char.IsWhiteSpace(_chars[Length - 1]))
            {
                Length--;
            }
        }

        public void Dispose()
        {
            if (_rented is { } rented)
            {
                _rented = null;
                ArrayPool<char>.Shared.Return(rented);
            }
        }

        private void Grow(int needed)
        {
            var larger = ArrayPool<char>.Shared.Rent(Math.Max(_chars.Length * 2, Length + needed));
            _chars[..Length].CopyTo(larger);
            Dispose();
            _rented = larger;
            _chars = larger;
        }
    }

    private static bool IsWordChar(char c) => char.IsAsciiLetterOrDigit(c) || c == '_';

    private static bool EndsWord(ReadOnlySpan<char> s, int at) => at >= s.Length || !IsWordChar(s[at]);

    private static int Digits(ReadOnlySpan<char> s, int from, int min, int max)
    {
        var n = 0;
        while (from + n < s.Length && n < max && char.IsAsciiDigit(s[from + n]))
        {
            n++;
        }

        return n >= min ? n : -1;
    }

    // 2026-11-24T03:00[:00[.123]][Z|+01:00], also with a space between date and time.
    private static int Timestamp(ReadOnlySpan<char> s)
    {
        if (s.Length < 16 || Digits(s, 0, 4, 4) != 4 || s[4] != '-' || Digits(s, 5, 2, 2) != 2 || s[7] != '-' || Digits(s, 8, 2, 2) != 2
            || (s[10] != 'T' && s[10] != ' ') || Digits(s, 11, 2, 2) != 2 || s[13] != ':' || Digits(s, 14, 2, 2) != 2)
        {
            return 0;
        }

        var i = 16;
        if (i + 2 < s.Length && s[i] == ':' && Digits(s, i + 1, 2, 2) == 2)
        {
            i += 3;
            if (i + 1 < s.Length && s[i] == '.' && Digits(s, i + 1, 1, 9) is var f and > 0)
            {
                i += 1 + f;
            }
        }

        if (i < s.Length && s[i] == 'Z')
        {
            i++;
        }
        else if (i + 5 <= s.Length && (s[i] == '+' || s[i] == '-') && Digits(s, i + 1, 2, 2) == 2)
        {
            var j = i + 3;
            if (j < s.Length && s[j] == ':')
            {
                j++;
            }

            if (Digits(s, j, 2, 2) == 2)
            {
                i = j + 2;
            }
        }

        return i;
    }

    private static int Guid(ReadOnlySpan<char> s)
    {
        ReadOnlySpan<int> groups = [8, 4, 4, 4, 12];
        var i = 0;
        for (var g = 0; g < groups.Length; g++)
        {
            for (var k = 0; k < groups[g]; k++, i++)
            {
                if (i >= s.Length || !char.IsAsciiHexDigit(s[i]))
                {
                    return 0;
                }
            }

            if (g < groups.Length - 1)
            {
                if (i >= s.Length || s[i] != '-')
                {
                    return 0;
                }

                i++;
            }
        }

        return EndsWord(s, i) ? i : 0;
    }

    // 10.0.3.17 or 10.0.3.17:5432
    private static int IPv4(ReadOnlySpan<char> s)
    {
        var i = 0;
        for (var part = 0; part < 4; part++)
        {
            var d = Digits(s, i, 1, 3);
            if (d < 0)
            {
                return 0;
            }

            i += d;
            if (part < 3)
            {
                if (i >= s.Length || s[i] != '.')
                {
                    return 0;
                }

                i++;
            }
        }

        if (i + 1 < s.Length && s[i] == ':' && Digits(s, i + 1, 1, 5) is var port and > 0)
        {
            i += 1 + port;
        }

        return EndsWord(s, i) ? i : 0;
    }

    // 0x7ffd..., or 8+ hex characters with at least one digit (commit ids, trace ids, pod hashes).
    private static int Hex(ReadOnlySpan<char> s)
    {
        if (s.Length > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        {
            var n = 2;
            while (n < s.Length && char.IsAsciiHexDigit(s[n]))
            {
                n++;
            }

            return n > 2 && EndsWord(s, n) ? n : 0;
        }

        var i = 0;
        var digit = false;
        while (i < s.Length && char.IsAsciiHexDigit(s[i]))
        {
            digit |= char.IsAsciiDigit(s[i]);
            i++;
        }

        return i >= 8 && digit && EndsWord(s, i) ? i : 0;
    }

    // -12, 3.5, 30000: a whole token of digits, not digits inside a word such as "Int32" or "40P01".
    private static int Number(ReadOnlySpan<char> s)
    {
        var i = 0;
        if (s[0] == '-')
        {
            i++;
        }

        var d = Digits(s, i, 1, int.MaxValue);
        if (d < 0)
        {
            return 0;
        }

        i += d;
        if (i + 1 < s.Length && s[i] == '.' && char.IsAsciiDigit(s[i + 1]))
        {
            i += 1 + Digits(s, i + 1, 1, int.MaxValue);
        }

        return EndsWord(s, i) ? i : 0;
    }
}
