using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;

namespace Grace.Engine.Adapters;

/// <summary>
/// Binds a playbook's (or a contract's) <c>Parameters</c> into a typed record once, with the
/// configuration binder and DataAnnotations, so an action never parses strings again and a typo
/// stops the start naming the parameter. Shared by the container and SSH modules until the adapter
/// model promotes it.
/// </summary>
public static class TypedParameters
{
    /// <summary>The record bound from <paramref name="parameters"/>, or the problems, each naming its parameter (<c>Parameters:StopTimeoutSeconds ...</c>).</summary>
    public static T Bind<T>(IReadOnlyDictionary<string, string> parameters, out List<string> errors, IEnumerable<string>? ignore = null)
        where T : class, new()
    {
        errors = [];
        var skipped = new HashSet<string>(ignore ?? [], StringComparer.OrdinalIgnoreCase);
        var known = typeof(T).GetProperties().Select(p => p.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
        foreach (var key in parameters.Keys.Where(k => !known.Contains(k) && !skipped.Contains(k)).Order(StringComparer.Ordinal))
        {
            errors.Add($"Parameters:{key} is not a parameter of this action; it takes {(known.Count == 0 ? "none" : string.Join(", ", known.Order(StringComparer.Ordinal)))}.");
        }

        var section = new ConfigurationBuilder()
            .AddInMemoryCollection(parameters.Where(p => known.Contains(p.Key)).Select(p => new KeyValuePair<string, string?>(p.Key, p.Value)))
            .Build();
        T value;
        try
        {
            value = section.Get<T>() ?? new T();
        }
        catch (InvalidOperationException ex)
        {
            // The binder names the value and the type it could not convert to, and the property's path.
            errors.Add($"Parameters: {ex.Message}");
            return new T();
        }

        var results = new List<ValidationResult>();
        if (!Validator.TryValidateObject(value, new ValidationContext(value), results, validateAllProperties: true))
        {
            errors.AddRange(results.Select(r => $"Parameters:{string.Join(",", r.MemberNames)} {r.ErrorMessage}"));
        }

        return value;
    }

    /// <summary>Binds and throws when the parameters are wrong: for an action that was validated at start and still meets a bad value (a changed configuration).</summary>
    public static T BindOrRefuse<T>(IReadOnlyDictionary<string, string> parameters, IEnumerable<string>? ignore = null)
        where T : class, new()
    {
        var value = Bind<T>(parameters, out var errors, ignore);
        return errors.Count == 0 ? value : throw new Execute.ActionRefusedException(string.Join(" ", errors));
    }
}

/// <summary>A probe or action that takes no parameters.</summary>
public sealed record NoParameters;
