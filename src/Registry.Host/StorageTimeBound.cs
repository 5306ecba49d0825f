using System.Net.Sockets;
using Azure;
using Registry.Abstractions;

namespace Registry.Host;

/// <summary>
/// How the host bounds every storage operation, whatever the store (grain storage, index store): storage that is down
/// or hanging answers like IoT Hub does, 503 <c>ServiceUnavailable</c> within <c>Registry:StorageTimeoutSeconds</c>,
/// rather than a 500 after the SDKs' long retries. Conflicts (etag mismatches) and other answers storage did give pass
/// through unchanged.
/// </summary>
public sealed partial class StorageTimeBound(TimeSpan timeout, ILogger<StorageTimeBound> logger)
{
    public TimeSpan Timeout => timeout;

    /// <summary>Runs <paramref name="operation"/> for at most the timeout.</summary>
    public async Task Run(Task operation)
    {
        try
        {
            // The operation itself cannot be cancelled: abandoned, it may still land, which the device grain's
            // re-read after a failed write is there for.
            await operation.WaitAsync(timeout);
        }
        catch (TimeoutException e)
        {
            throw Unavailable($"Storage did not answer within {timeout.TotalSeconds:0.#} s; retry later.", e);
        }
        catch (Exception e) when (IsUnreachable(e))
        {
            throw Unavailable("Storage is not reachable; retry later.", e);
        }
    }

    /// <summary>
    /// Runs an operation of many requests (a range query) without an overall limit, each request being bounded by the
    /// SDK's network timeout: only storage that cannot be reached is turned into 503.
    /// </summary>
    public async Task<T> RunLong<T>(Task<T> operation)
    {
        try
        {
            return await operation;
        }
        catch (Exception e) when (IsUnreachable(e))
        {
            throw Unavailable("Storage is not reachable; retry later.", e);
        }
    }

    /// <summary>The caller gets IoT Hub's code and a plain text; what storage said stays in this silo's log.</summary>
    private StorageUnavailableException Unavailable(string message, Exception cause)
    {
        LogUnavailable(logger, cause, message);
        return new StorageUnavailableException(message);
    }

    [LoggerMessage(EventId = 4009, Level = LogLevel.Warning, Message = "{Message}")]
    private static partial void LogUnavailable(ILogger logger, Exception exception, string message);

    /// <summary>No answer at all, or storage saying it is unavailable: anything else is an answer to pass on.</summary>
    private static bool IsUnreachable(Exception e) => e switch
    {
        RequestFailedException { Status: 0 or 408 or >= 500 } => true,
        RequestFailedException => false, // e.g. 412: a conflict, handled by the grain as such
        HttpRequestException or SocketException or IOException or TimeoutException => true,
        AggregateException aggregate => aggregate.InnerExceptions.Any(IsUnreachable),
        _ => e.InnerException is { } innerException && IsUnreachable(innerException),
    };
}
