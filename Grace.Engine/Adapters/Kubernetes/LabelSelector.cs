using System.Text.RegularExpressions;
using k8s.Models;

namespace Grace.Engine.Adapters.Kubernetes;

/// <summary>How one requirement of a label selector compares a label.</summary>
public enum LabelOperator
{
    Equals,
    NotEquals,
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

/// <summary>One requirement of a label selector: <c>app=orders</c>, <c>tier in (web,api)</c>, <c>!canary</c>.</summary>
public sealed record LabelRequirement(string Key, LabelOperator Operator, IReadOnlyList<string> Values)
{
    public bool Matches(IDictionary<string, string>? labels)
    {
        var has = labels is not null && labels.TryGetValue(Key, out _);
        var value = has ? labels![Key] : null;
        return Operator switch
        {
            LabelOperator.Equals or LabelOperator.In => has && Values.Contains(value!),
            LabelOperator.NotEquals or LabelOperator.NotIn => !has || !Values.Contains(value!),
            LabelOperator.Exists => has,
            LabelOperator.DoesNotExist => !has,
            _ => false,
        };
    }

    public override string ToString() => Operator switch
    {
        LabelOperator.Equals => $"{Key}={Values[0]}",
        LabelOperator.NotEquals => $"{Key}!={Values[0]}",
        LabelOperator.In => $"{Key} in ({string.Join(",", Values)})",
        LabelOperator.NotIn => $"{Key} notin ({string.Join(",", Values)})",
        LabelOperator.Exists => Key,
        _ => $"!{Key}",
    };
}

/// <summary>
/// A label selector as kubectl writes it (<c>app=orders,tier in (web,api),!canary</c>), or as a
/// workload declares it (<c>matchLabels</c>, <c>matchExpressions</c>). Grace lists pods with it
/// (the API server does the matching) and checks with it whether a pod named by an event is one
/// of the target's.
/// </summary>
public sealed partial record LabelSelector(IReadOnlyList<LabelRequirement> Requirements)
{
    public bool IsEmpty => Requirements.Count == 0;

    public bool Matches(IDictionary<string, string>? labels) => Requirements.All(r => r.Matches(labels));

    /// <summary>The selector in the form the API's <c>labelSelector</c> query takes.</summary>
    public override string ToString() => string.Join(",", Requirements);

    /// <summary>A workload's own selector.</summary>
    public static LabelSelector From(V1LabelSelector? selector)
    {
        var requirements = new List<LabelRequirement>();
        foreach (var (key, value) in selector?.MatchLabels ?? new Dictionary<string, string>())
        {
            requirements.Add(new LabelRequirement(key, LabelOperator.Equals, [value]));
        }

        foreach (var expression in selector?.MatchExpressions ?? [])
        {
            var op = expression.OperatorProperty switch
            {
                "In" => LabelOperator.In,
                "NotIn" => LabelOperator.NotIn,
                "Exists" => LabelOperator.Exists,
                "DoesNotExist" => LabelOperator.DoesNotExist,
                var other => throw new InvalidOperationException($"The workload's selector uses operator '{other}', which Kubernetes does not define."),
            };
            requirements.Add(new LabelRequirement(expression.Key, op, [.. expression.Values ?? []]));
        }

        return new LabelSelector(requirements);
    }

    /// <summary>Parses kubectl's selector syntax; <paramref name="error"/> says what is wrong.</summary>
    public static bool TryParse(string text, out LabelSelector? selector, out string? error)
    {
        selector = null;
        error = null;
        var requirements = new List<LabelRequirement>();
        foreach (var term in SplitTerms(text))
        {
            var t = term.Trim();
            Match m;
            if ((m = SetTerm().Match(t)).Success)
            {
                var values = m.Groups["values"].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
                if (values.Length == 0 || values.Any(v => !IsValue(v)))
                {
                    error = $"'{t}' needs one or more label values in its parentheses.";
                    return false;
                }

                requirements.Add(new LabelRequirement(m.Groups["key"].Value, m.Groups["op"].Value == "in" ? LabelOperator.In : LabelOperator.NotIn, values));
            }
            else if ((m = EqualityTerm().Match(t)).Success && IsValue(m.Groups["value"].Value))
            {
                requirements.Add(new LabelRequirement(m.Groups["key"].Value, m.Groups["op"].Value == "!=" ? LabelOperator.NotEquals : LabelOperator.Equals, [m.Groups["value"].Value]));
            }
            else if ((m = ExistsTerm().Match(t)).Success)
            {
                requirements.Add(new LabelRequirement(m.Groups["key"].Value, m.Groups["not"].Success ? LabelOperator.DoesNotExist : LabelOperator.Exists, []));
            }
            else
            {
                error = $"'{t}' is not key=value, key!=value, key in (a,b), key notin (a,b), key or !key.";
                return false;
            }
        }

        selector = new LabelSelector(requirements);
        return true;
    }

    // Commas separate requirements, except inside the parentheses of a set.
    private static IEnumerable<string> SplitTerms(string text)
    {
        var depth = 0;
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            depth += text[i] switch { '(' => 1, ')' => -1, _ => 0 };
            if (text[i] == ',' && depth == 0)
            {
                yield return text[start..i];
                start = i + 1;
            }
        }

        if (!string.IsNullOrWhiteSpace(text[start..]))
        {
            yield return text[start..];
        }
    }

    private static bool IsValue(string value) => value.Length <= 63 && LabelValue().IsMatch(value);

    private const string Key = "(?<key>([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)";

    [GeneratedRegex("^" + Key + "\\s+(?<op>in|notin)\\s*\\((?<values>[^()]*)\\)$")]
    private static partial Regex SetTerm();

    [GeneratedRegex("^" + Key + "\\s*(?<op>==|=|!=)\\s*(?<value>[^,\\s]*)$")]
    private static partial Regex EqualityTerm();

    [GeneratedRegex("^(?<not>!)?\\s*" + Key + "$")]
    private static partial Regex ExistsTerm();

    [GeneratedRegex("^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")]
    private static partial Regex LabelValue();
}
