using Grace.Data.Entities;
using Grace.Engine.Capture;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Grace.Tests.Unit;

/// <summary>Fingerprints of messages as real systems write them: repeats meet, different problems stay apart.</summary>
public sealed class RealWorldFingerprintTests
{
    public static TheoryData<string, string, string, string> SameProblem => new()
    {
        {
            "stack trace",
            "System.InvalidOperationException: Cart 8812 is locked by session 77.\n   at Orders.Api.CheckoutController.Post(Int32 cartId) in /src/Orders/CheckoutController.cs:line 42\n   at lambda_method12(Closure, Object)",
            "System.InvalidOperationException: Cart 9 is locked by session 1203.\n   at Orders.Api.CheckoutController.Post(Int32 cartId) in /src/Orders/CheckoutController.cs:line 42\n   at lambda_method12(Closure, Object)",
            "System.InvalidOperationException: Cart <n> is locked by session <n>. at Orders.Api.CheckoutController.Post(Int32 cartId) in /src/Orders/CheckoutController.cs:line <n> at lambda_method12(Closure, Object)"
        },
        {
            "PostgreSQL deadlock",
            "40P01: deadlock detected DETAIL: Process 31876 waits for ShareLock on transaction 1048771; blocked by process 31877.",
            "40P01: deadlock detected DETAIL: Process 402 waits for ShareLock on transaction 99120; blocked by process 410.",
            "40P01: deadlock detected DETAIL: Process <n> waits for ShareLock on transaction <n>; blocked by process <n>."
        },
        {
            "SQL Server timeout",
            "Execution Timeout Expired. The timeout period elapsed prior to completion of the operation (ClientConnectionId:7c9e6679-7425-40de-944b-e07fc1f90ae7) after 30000 ms",
            "Execution Timeout Expired. The timeout period elapsed prior to completion of the operation (ClientConnectionId:0b1e2f3a-1111-4abc-9def-123456789abc) after 30012 ms",
            "Execution Timeout Expired. The timeout period elapsed prior to completion of the operation (ClientConnectionId:<guid>) after <n> ms"
        },
        {
            "HTTP failure",
            "Response status code does not indicate success: 503 (Service Unavailable) from http://10.0.4.21:8080/api/stock at 2026-11-24T03:12:45.118Z",
            "Response status code does not indicate success: 503 (Service Unavailable) from http://10.0.9.3:8080/api/stock at 2026-11-24 04:00:01",
            "Response status code does not indicate success: <n> (Service Unavailable) from http://<ip>/api/stock at <ts>"
        },
        {
            "Kubernetes event",
            "Back-off restarting failed container checkout in pod checkout-7d9f8b6c5d-x2k4q_default(3f1c2a9e-5b7d-4c1e-9a2f-8e6d4c3b2a10)",
            "Back-off restarting failed container checkout in pod checkout-7d9f8b6c5d-x2k4q_default(0a9b8c7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d)",
            "Back-off restarting failed container checkout in pod checkout-<hex>-x2k4q_default(<guid>)"
        },
    };

    [Theory]
    [MemberData(nameof(SameProblem))]
    public void Repeats_of_one_problem_share_a_fingerprint(string what, string first, string second, string normalized)
    {
        _ = what;
        Assert.Equal(normalized, Fingerprinter.Normalize(first));
        Assert.Equal(normalized, Fingerprinter.Normalize(second));
        Assert.Equal(Fingerprinter.Compute(new Signal("svc", first, Severity.Error, DateTimeOffset.UtcNow)),
            Fingerprinter.Compute(new Signal("svc", second, Severity.Error, DateTimeOffset.UtcNow)));
    }

    [Fact]
    public void Words_with_digits_are_kept_whole()
    {
        Assert.Equal("Killed process <n> (dotnet) total-vm:4823444kB at Int32 in x64", Fingerprinter.Normalize("Killed process 21344 (dotnet) total-vm:4823444kB at Int32 in x64"));
        Assert.Equal("utf8 sha256 -<n> <n>", Fingerprinter.Normalize("utf8  sha256 --5 3.25"));
    }

    [Theory]
    [InlineData("SQLite Error 5: 'database is locked'.", "SQLite Error 19: 'UNIQUE constraint failed: Orders.Id'.")]
    [InlineData("Connection refused (127.0.0.1:5432)", "Connection reset by peer (127.0.0.1:5432)")]
    [InlineData("Readiness probe failed: HTTP probe failed with statuscode: 503", "Liveness probe failed: HTTP probe failed with statuscode: 503")]
    public void Different_problems_stay_apart(string a, string b) =>
        Assert.NotEqual(Fingerprinter.Compute(new Signal("svc", a, Severity.Error, DateTimeOffset.UtcNow)),
            Fingerprinter.Compute(new Signal("svc", b, Severity.Error, DateTimeOffset.UtcNow)));

    [Fact]
    public void The_logger_provider_turns_errors_into_signals_with_their_template()
    {
        var intake = new SignalIntake(Options.Create(new Grace.Engine.Configuration.EngineOptions { CaptureBufferCapacity = 10 }));
        using var provider = new GraceLoggerProvider(intake, new FakeTimeProvider(DateTimeOffset.UtcNow));
        var logger = provider.CreateLogger("Orders.Checkout");
        logger.LogWarning("Slow checkout {CartId}", 1);
        logger.LogError(new TimeoutException("db"), "Checkout {CartId} failed", 42);
        logger.LogCritical("Payments down");
        provider.CreateLogger("Grace.Engine.Capture.CaptureService").LogError("lost a batch");

        Assert.Equal(2, intake.Accepted);
        Assert.True(intake.TryTake(out var error));
        Assert.Equal("Checkout {CartId} failed", error.MessageTemplate);
        Assert.Equal("Orders.Checkout", error.Source);
        Assert.Equal("System.TimeoutException", error.ExceptionType);
        Assert.Contains("Checkout 42 failed", error.Message);
        Assert.True(intake.TryTake(out var critical));
        Assert.Equal(Severity.Critical, critical.Severity);
    }
}
