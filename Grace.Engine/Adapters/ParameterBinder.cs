using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace Grace.Engine.Adapters;

/// <summary>An action or probe that takes no parameters.</summary>
public sealed class NoParameters;

/// <summary>
/// Binds a playbook's (or a contract's, or a health check's) parameters into the typed record its
/// action or probe declares: unknown names, values that do not convert and rules the record states
/// (data annotations, <see cref="IValidatableObject"/>) are reported as "Parameters:Name message"
/// at start, and an action receives the typed value, never a string to parse.
/// </summary>
public static class ParameterBinder
{
    /// <summary>Faults of the parameters for <typeparamref name="T"/>; empty when they bind and hold.</summary>
    public static IReadOnlyList<string> Validate<T>(IReadOnlyDictionary<string, string> parameters) where T : class, new() =>
        TryBind<T>(parameters, out _);

    /// <summary>The typed parameters; an <see cref="Execute.ActionRefusedException"/> when they no longer bind (the catalog changed under a mission).</summary>
    public static T Bind<T>(IReadOnlyDictionary<string, string> parameters) where T : class, new()
    {
        var faults = TryBind<T>(parameters, out var value);
        return faults.Count == 0 ? value! : throw new Execute.ActionRefusedException(string.Join(" ", faults));
    }

    public static IReadOnlyList<string> TryBind<T>(IReadOnlyDictionary<string, string> parameters, out T? value) where T : class, new()
    {
        value = null;
        var faults = new List<string>();
        var known = typeof(T).GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite).Select(p => p.Name).ToList();
        foreach (var name in parameters.Keys.Where(k => !known.Contains(k.Split(':')[0], StringComparer.OrdinalIgnoreCase)))
        {
            faults.Add(known.Count == 0
                ? $"Parameters:{name}: this takes no parameters."
                : $"Parameters:{name} is not a parameter here; known: {string.Join(", ", known)}.");
        }

        if (faults.Count > 0)
        {
            return faults;
        }

        // Each value is converted on its own first, so a fault names its parameter and says what it must be.
        foreach (var (name, text) in parameters)
        {
            var property = typeof(T).GetProperty(name.Split(':')[0], BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase)!;
            var type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            if (type == typeof(string) || !name.Equals(property.Name, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            try
            {
                _ = type.IsEnum ? Enum.Parse(type, text, ignoreCase: true) : TypeDescriptor.GetConverter(type).ConvertFromInvariantString(text);
            }
            catch (Exception ex) when (ex is FormatException or ArgumentException or NotSupportedException or OverflowException || ex.InnerException is FormatException or OverflowException)
            {
                faults.Add($"Parameters:{property.Name} '{text}' is not a valid {Describe(property.PropertyType)}.");
            }
        }

        if (faults.Count > 0)
        {
            return faults;
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(parameters.Select(p => new KeyValuePair<string, string?>(p.Key, p.Value))).Build();
        value = configuration.Get<T>() ?? new T();

        var results = new List<ValidationResult>();
        if (!Validator.TryValidateObject(value, new ValidationContext(value), results, validateAllProperties: true))
        {
            faults.AddRange(results.Select(r => $"Parameters:{string.Join(",", r.MemberNames)} {r.ErrorMessage}"));
        }

        return faults;
    }

    private static string Describe(Type? type)
    {
        var t = type is null ? null : Nullable.GetUnderlyingType(type) ?? type;
        if (t is null)
        {
            return "value";
        }

        if (t.IsEnum)
        {
            return $"value (use one of {string.Join(", ", Enum.GetNames(t))})";
        }

        return t == typeof(int) || t == typeof(long) ? "whole number"
            : t == typeof(double) ? "number"
            : t == typeof(bool) ? "true or false"
            : t == typeof(TimeSpan) ? "duration (hh:mm:ss)"
            : "value";
    }

    /// <summary>The parameters as a person reads them in a message.</summary>
    public static string Show(IReadOnlyDictionary<string, string> parameters) =>
        string.Join(", ", parameters.Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Key}={p.Value}")));
}
