using System.Net;
using System.Net.Sockets;
using Amazon.Runtime;

namespace Grace.Engine.Adapters.Aws;

/// <summary>
/// A call to AWS that failed, said in Grace's words: which call, where, and why; <see cref="Transient"/>
/// when a retry may succeed (throttling, AWS's own 5xx, a connection that failed). It derives from
/// <see cref="InvalidOperationException"/> on purpose: that is how an action tells the engine that a
/// snapshot cannot be taken, so the mission fails saying why instead of being retried as if Grace's
/// own database were away.
/// </summary>
public sealed class AwsCallException(string message, bool transient, string? errorCode = null, Exception? inner = null)
    : InvalidOperationException(message, inner)
{
    public bool Transient { get; } = transient;

    /// <summary>AWS's error code (<c>Throttling</c>, <c>UnauthorizedOperation</c>...), when AWS answered.</summary>
    public string? ErrorCode { get; } = errorCode;
}

/// <summary>Which failures of calls to AWS are worth a retry, and how a failure is said.</summary>
public static class AwsErrors
{
    // The codes AWS documents for "slow down" across EC2 and the query services (Auto Scaling among them).
    private static readonly HashSet<string> Throttling = new(StringComparer.Ordinal)
    {
        "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottled", "RequestThrottledException",
        "RequestLimitExceeded", "TooManyRequestsException", "EC2ThrottledException", "SlowDown", "PriorRequestNotComplete",
        "BandwidthLimitExceeded", "ProvisionedThroughputExceededException", "TransactionInProgressException",
    };

    // Failures on AWS's side that it asks clients to retry, whatever their status code says.
    private static readonly HashSet<string> ServerSide = new(StringComparer.Ordinal)
    {
        "InternalError", "InternalFailure", "ServiceUnavailable", "Unavailable", "RequestTimeout", "RequestTimeoutException",
        "ResourceContention", "IDPCommunicationError",
    };

    // Codes that mean the credentials or their permissions are the problem: a retry cannot help.
    private static readonly HashSet<string> Access = new(StringComparer.Ordinal)
    {
        "UnauthorizedOperation", "AuthFailure", "AccessDenied", "AccessDeniedException", "InvalidClientTokenId",
        "SignatureDoesNotMatch", "UnrecognizedClientException", "ExpiredToken", "ExpiredTokenException", "MissingAuthenticationToken",
        "OptInRequired", "Blocked",
    };

    public static bool IsTransient(Exception exception) => exception switch
    {
        AwsCallException call => call.Transient,
        AmazonServiceException service => IsTransient(service.ErrorCode, (int)service.StatusCode) || IsConnectionFailure(service.InnerException),
        _ => IsConnectionFailure(exception),
    };

    /// <summary>Throttling codes, AWS's own 5xx answers and its "try again" codes.</summary>
    public static bool IsTransient(string? errorCode, int status) =>
        (errorCode is not null && (Throttling.Contains(errorCode) || ServerSide.Contains(errorCode))) || status >= 500 || status == 429;

    /// <summary>A failure to reach the endpoint at all (refused, reset, no route, a name that does not resolve).</summary>
    public static bool IsConnectionFailure(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is HttpRequestException or SocketException or IOException or WebException)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>An AWS error (answered, or a connection that failed) in Grace's words.</summary>
    public static AwsCallException Explain(string call, AwsConnection connection, Exception exception)
    {
        if (exception is AwsCallException known)
        {
            return known;
        }

        if (exception is AmazonServiceException { ErrorCode: { Length: > 0 } code } service)
        {
            return Answered(call, connection, code, service.Message, (int)service.StatusCode, exception);
        }

        if (IsConnectionFailure(exception))
        {
            return new AwsCallException($"{call} could not reach AWS at {connection.Where}: {Innermost(exception).Message}", transient: true, inner: exception);
        }

        return new AwsCallException($"{call} failed at {connection.Where}: {exception.Message}", transient: false, inner: exception);
    }

    /// <summary>AWS answered with an error code.</summary>
    public static AwsCallException Answered(string call, AwsConnection connection, string code, string? message, int status, Exception? inner = null)
    {
        var advice = Access.Contains(code)
            ? " The credentials Grace found (the standard chain" + (connection.Profile is { } profile ? $", profile '{profile}'" : "") + ") were refused or lack this permission."
            : "";
        return new AwsCallException($"{call} was refused by AWS at {connection.Where}: {code}" + (string.IsNullOrWhiteSpace(message) ? "." : $": {message}") + advice,
            IsTransient(code, status), code, inner);
    }

    private static Exception Innermost(Exception exception)
    {
        var e = exception;
        while (e.InnerException is not null)
        {
            e = e.InnerException;
        }

        return e;
    }
}
