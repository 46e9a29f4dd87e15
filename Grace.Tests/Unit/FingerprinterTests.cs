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
}
