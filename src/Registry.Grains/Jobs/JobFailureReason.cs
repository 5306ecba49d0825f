using System.Net.Sockets;
using System.Text.RegularExpressions;
using Azure;

namespace Registry.Grains.Jobs;

/// <summary>
/// The one place that turns what failed a job into its <c>failureReason</c>: one short sentence naming the cause's class
/// (storage unreachable, access refused, blob not found or unreadable, internal error) for the caller. Exception
/// messages never pass through: the Azure SDK's and Orleans' carry retry dumps, stack traces, internal type and table
/// names and paths; the full exception goes to the host's log instead.
/// </summary>
internal static partial class JobFailureReason
{
    /// <summary>The reason for a failed call to the caller's storage while doing <paramref name="what"/> (e.g. "read the input blob 'x'").</summary>
    public static string OfStorage(string what, Exception exception) => $"Could not {what}: {Cause(exception)}.";

    /// <summary>
    /// The reason for an import whose input blob was replaced after the job first read it: a resume read the new blob from
    /// the old one's byte offset and applied parts of two files (hostile review, 2026-12-07). The lines applied before stay.
    /// </summary>
    public static string InputChanged(string blobName) =>
        $"The input blob '{blobName}' changed while the job ran: an import reads one version of its input; the new content was not applied. Start a new job to import it.";

    /// <summary>The reason for whatever ended the job: a storage failure keeps its sentence; anything else is the registry's own.</summary>
    public static string Of(Exception exception) => exception switch
    {
        JobStorageException storage => storage.Message,
        _ when Unreachable(exception) => "The registry could not reach its own storage while running the job; the host's log has the details.",
        _ => "The registry failed while running the job (an internal error); the host's log has the details.",
    };

    private static string Cause(Exception exception) => Find<RequestFailedException>(exception) switch
    {
        { Status: 401 or 403 } refused => $"access was refused (HTTP {refused.Status}{Code(refused)}); check the SAS token and its permissions",
        { Status: 404 } missing => $"not found (HTTP 404{Code(missing)})",
        // Only the input's reads are conditional (on the version the job first read): the blob was written again since.
        { Status: 412 } changed => $"it changed while the job ran (HTTP 412{Code(changed)}); the new content was not applied. Start a new job to import it",
        { Status: > 0 } other => $"the storage service answered HTTP {other.Status}{Code(other)}",
        _ when Unreachable(exception) => "the storage host did not answer",
        _ => "the blob could not be read or written",
    };

    /// <summary>The storage error code (e.g. <c>AuthorizationFailure</c>) only when it looks like one: it comes from whatever host the SAS names.</summary>
    private static string Code(RequestFailedException e) => e.ErrorCode is { } code && ErrorCodeShape().IsMatch(code) ? " " + code : "";

    private static bool Unreachable(Exception exception) =>
        Find<RequestFailedException>(exception) is { Status: 0 } ||
        Find<HttpRequestException>(exception) is not null ||
        Find<SocketException>(exception) is not null ||
        Find<TimeoutException>(exception) is not null ||
        Find<IOException>(exception) is not null;

    /// <summary>The first <typeparamref name="T"/> in the exception's chain, aggregates included.</summary>
    private static T? Find<T>(Exception? exception) where T : Exception
    {
        for (var depth = 0; exception is not null && depth < 16; depth++)
        {
            if (exception is T found)
            {
                return found;
            }
            if (exception is AggregateException { InnerExceptions.Count: > 0 } aggregate)
            {
                foreach (var inner in aggregate.InnerExceptions)
                {
                    if (Find<T>(inner) is { } nested)
                    {
                        return nested;
                    }
                }
                return null;
            }
            exception = exception.InnerException;
        }
        return null;
    }

    [GeneratedRegex("^[A-Za-z]{1,64}$")]
    private static partial Regex ErrorCodeShape();
}
