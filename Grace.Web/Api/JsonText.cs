using System.Text.Json;

namespace Grace.Web.Api;

/// <summary>
/// Finds text in a parsed JSON document that cannot become a .NET string: invalid UTF-8 bytes, or
/// an escaped lone surrogate (<c>"\ud800"</c>). The parser lets both through and
/// <see cref="JsonElement.GetString"/> throws on them later, so every JSON body is checked once,
/// up front, and the client is told where the bad text is instead of getting a 500.
/// </summary>
public static class JsonText
{
    /// <summary>The field (as the problem's error key) and what is wrong with it, or null when all text is valid.</summary>
    public static (string Field, string Message)? FindInvalid(JsonElement element) => Find(element, "");

    private static (string Field, string Message)? Find(JsonElement element, string path)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                return IsValid(element.GetString) ? null
                    : (Field(path), $"{Field(path)} is not valid Unicode text: invalid UTF-8 bytes or a lone surrogate escape such as \\ud800.");
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    if (Find(item, $"{path}[{index++}]") is { } found)
                    {
                        return found;
                    }
                }

                return null;
            case JsonValueKind.Object:
                var position = 0;
                foreach (var property in element.EnumerateObject())
                {
                    string name;
                    try
                    {
                        name = property.Name;
                    }
                    catch (InvalidOperationException)
                    {
                        var where = path.Length == 0 ? "the body" : Field(path);
                        return (Field(path), $"Property {position + 1} of {where} has a name that is not valid Unicode text: invalid UTF-8 bytes or a lone surrogate escape.");
                    }

                    if (Find(property.Value, path.Length == 0 ? name : $"{path}.{name}") is { } found)
                    {
                        return found;
                    }

                    position++;
                }

                return null;
            default:
                return null;
        }
    }

    private static string Field(string path) => path.Length == 0 ? "body" : path;

    private static bool IsValid(Func<string?> read)
    {
        try
        {
            _ = read();
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}
