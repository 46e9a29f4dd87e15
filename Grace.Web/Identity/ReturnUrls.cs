namespace Grace.Web.Identity;

/// <summary>Where a person may be sent after signing in: a path on this site, nothing else.</summary>
public static class ReturnUrls
{
    private const int MaxLength = 2048;

    /// <summary>
    /// <paramref name="returnUrl"/> when it is a plain local path, otherwise "/". Refused: absolute
    /// URLs, protocol-relative ones (<c>//host</c>, <c>/\host</c>), and any control character or white
    /// space, since browsers drop tabs and newlines, so <c>/\t/evil.example</c> would become <c>//evil.example</c>; and
    /// non-ASCII left unencoded (a browser sends it encoded).
    /// </summary>
    public static string Sanitize(string? returnUrl)
    {
        if (string.IsNullOrEmpty(returnUrl) || returnUrl.Length > MaxLength || returnUrl[0] != '/')
        {
            return "/";
        }

        if (returnUrl.Length > 1 && returnUrl[1] is '/' or '\\')
        {
            return "/";
        }

        foreach (var c in returnUrl)
        {
            if (char.IsControl(c) || char.IsWhiteSpace(c) || c == '\\' || char.IsSurrogate(c))
            {
                return "/";
            }
        }

        return Uri.TryCreate(returnUrl, UriKind.Relative, out _) ? returnUrl : "/";
    }
}
