using Grace.Data.Entities;
using Grace.Engine.Capture;

namespace Grace.Tests.Unit;

public sealed class FingerprinterTests
{
    [Theory]
    [InlineData("Timeout after 30000 ms calling 10.0.3.17:5432", "Timeout after <n> ms calling <ip>")]
    [InlineData("Order 7c9e6679-7425-40de-944b-e07fc1f90ae7 failed at 2026-11-24T03:00:00.123Z", "Order <guid> failed at <ts>")]
    [InlineData("Pod checkout-7d9f8b6c5d-x2k4q restarted 3 times", "Pod checkout-<hex>-x2k4q restarted <n> times")]
    [InlineData("Segfault at 0x7ffd5fbff8c8", "Segfault at <hex>")]
    [InlineData("SQLite Error 5: 'database is locked'.", "SQLite Error <n>: 'database is locked'.")]
    public void Normalize_folds_variable_parts_and_keeps_words(string message, string expected) =>
        Assert.Equal(expected, Fingerprinter.Normalize(message));

    [Fact]
    public void Repeats_with_other_values_share_a_fingerprint_and_other_problems_do_not()
    {
        var now = DateTimeOffset.UtcNow;
        var a = new Signal("orders", "Timeout after 300 ms on 10.1.2.3", Severity.Error, now);
        var b = a with { Message = "Timeout after 5123 ms on 10.9.9.9" };
        var otherSource = a with { Source = "billing" };
        var otherException = a with { ExceptionType = "System.TimeoutException" };
        var otherWords = a with { Message = "Refused after 300 ms on 10.1.2.3" };

        Assert.Equal(Fingerprinter.Compute(a), Fingerprinter.Compute(b));
        Assert.NotEqual(Fingerprinter.Compute(a), Fingerprinter.Compute(otherSource));
        Assert.NotEqual(Fingerprinter.Compute(a), Fingerprinter.Compute(otherException));
        Assert.NotEqual(Fingerprinter.Compute(a), Fingerprinter.Compute(otherWords));
    }

    [Fact]
    public void A_structured_template_is_the_fingerprint_whatever_the_rendered_values()
    {
        var now = DateTimeOffset.UtcNow;
        var a = new Signal("Grace.Engine", "User alice failed", Severity.Error, now, MessageTemplate: "User {User} failed");
        var b = a with { Message = "User bob failed" };
        Assert.Equal(Fingerprinter.Compute(a), Fingerprinter.Compute(b));
        Assert.Equal("User {User} failed", Fingerprinter.TemplateOf(b));
    }

    [Fact]
    public void A_message_longer_than_the_stack_buffer_normalizes_whole_and_the_same_on_every_path()
    {
        // Each "7" grows to "<n>": the normalized text outgrows its 512-character buffer on the stack several times over.
        var message = string.Join(" ", Enumerable.Range(0, 600).Select(i => $"w{i} 7")) + "   ";
        var expected = string.Join(" ", Enumerable.Range(0, 600).Select(i => $"w{i} <n>"));
        Assert.Equal(expected, Fingerprinter.Normalize(message));

        var signal = new Signal("orders", message, Severity.Error, DateTimeOffset.UtcNow, ExceptionType: "System.TimeoutException");
        Assert.Equal(Fingerprinter.Compute("orders", "System.TimeoutException", expected), Fingerprinter.Compute(signal));
        // A fingerprint is the first half of the SHA-256 of source, exception type and template, one per line.
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"orders\nSystem.TimeoutException\n{expected}"));
        Assert.Equal(Convert.ToHexStringLower(hash[..16]), Fingerprinter.Compute(signal));
    }

    [Fact]
    public void Trailing_space_is_trimmed_from_the_template_only_not_from_an_empty_exception_type()
    {
        var now = DateTimeOffset.UtcNow;
        var spaced = new Signal("orders", "Disk full  ", Severity.Error, now);
        var plain = spaced with { Message = "Disk full" };
        Assert.Equal(Fingerprinter.Compute(plain), Fingerprinter.Compute(spaced));
        Assert.Equal(Fingerprinter.Compute("orders", null, "Disk full"), Fingerprinter.Compute(spaced));
        // An empty message leaves the separators alone: source and an absent exception type still tell it apart.
        var empty = spaced with { Message = "   " };
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes("orders\n\n"));
        Assert.Equal(Convert.ToHexStringLower(hash[..16]), Fingerprinter.Compute(empty));
    }
}
