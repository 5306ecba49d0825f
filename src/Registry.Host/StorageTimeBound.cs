using System.Net.Sockets;
using System.Threading.RateLimiting;
using Azure;
using Registry.Abstractions;

namespace Registry.Host;

/// <summary>
/// How the host bounds every storage operation, whatever the store (grain storage, index store): storage that is down
/// or hanging answers like IoT Hub does, 503 <c>ServiceUnavailable</c> within <c>Registry:StorageTimeoutSeconds</c>,
/// rather than a 500 after the SDKs' long retries. Conflicts (etag mismatches) and other answers storage did give pass
/// through unchanged.
/// <para>
/// Single requests (<see cref="Request"/>: a device row read, a write through Orleans' providers) also share this
/// silo's <paramref name="requestsInFlight"/> slots (<c>Registry:GrainStorageRequestsInFlight</c>). A request that finds
/// every slot taken waits for one, at most the timeout, and is then refused with 503 without ever being sent; a slot is
/// held until storage has answered, also when the caller stopped waiting at the timeout. Unbounded,
/// a failover's thousands of reactivation reads all went to storage at once: each waited behind the others past the
/// timeout, was abandoned by its caller and still answered by storage, so storage spent itself on answers nobody read,
/// and the retries kept it so (the 100k alert soak with a silo killed, loadtests/README.md). docs/storage.md §9.
/// </para>
/// <para>
/// Partition loads (<see cref="Load"/>: an index or heartbeat-monitor partition's range query) have slots of their own, a
/// quarter as many, and wait for one as long as a caller waits for an answer (<paramref name="loadWait"/>, the silo's
/// response timeout). All at once, the 1,024 index partitions a first statistics call activates after a restart (and the
/// 1,024 monitor partitions a silo wakes) put 2,048 requests in storage's queue together: on a busy machine each then
/// waited past the SDK's network timeout, every load failed, and so did every statistics call after it (503 three times
/// in a row). Queued here, they reach storage a few at a time and each is answered in time. A sweep's loads (marked as
/// background by <see cref="Registry.Grains.Storage.BackgroundLoads"/>) take at most half the load slots, so a request
/// whose own partition must load is not queued behind them. docs/storage.md §9.
/// </para>
/// </summary>
public sealed partial class StorageTimeBound(TimeSpan timeout, ILogger<StorageTimeBound> logger, int requestsInFlight = StorageTimeBound.DefaultRequestsInFlight,
    TimeProvider? time = null, TimeSpan? loadWait = null)
{
    /// <summary>Single requests a silo has in flight at once by default (<c>Registry:GrainStorageRequestsInFlight</c>).</summary>
    public const int DefaultRequestsInFlight = 64;

    private readonly TimeProvider _time = time ?? TimeProvider.System;

    private readonly ConcurrencyLimiter _slots = new(new ConcurrencyLimiterOptions
    {
        PermitLimit = requestsInFlight,
        QueueLimit = int.MaxValue,
        QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
    });

    private readonly ConcurrencyLimiter _loadSlots = new(new ConcurrencyLimiterOptions
    {
        PermitLimit = Math.Max(1, requestsInFlight / 4),
        QueueLimit = int.MaxValue,
        QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
    });

    /// <summary>Background loads (a sweep's) take one of these before a load slot: they never hold more than half the load slots.</summary>
    private readonly ConcurrencyLimiter _backgroundLoads = new(new ConcurrencyLimiterOptions
    {
        PermitLimit = Math.Max(1, requestsInFlight / 8),
        QueueLimit = int.MaxValue,
        QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
    });

    private readonly TimeSpan _loadWait = loadWait ?? TimeSpan.FromSeconds(30);

    public TimeSpan Timeout => timeout;

    /// <summary>Partition loads this silo keeps in flight at most.</summary>
    public int LoadsInFlight => Math.Max(1, requestsInFlight / 4);

    /// <summary>Background loads (<see cref="Load{T}(Func{Task{T}}, bool)"/>) this silo keeps in flight at most: half its load slots.</summary>
    public int BackgroundLoadsInFlight => Math.Max(1, requestsInFlight / 8);

    /// <summary>Partition loads waiting for a slot now, background ones included.</summary>
    public long LoadsWaiting => (_loadSlots.GetStatistics()?.CurrentQueuedCount ?? 0) + (_backgroundLoads.GetStatistics()?.CurrentQueuedCount ?? 0);

    /// <summary>Single requests this silo keeps in flight at most.</summary>
    public int RequestsInFlight => requestsInFlight;

    /// <summary>Requests waiting for a slot now.</summary>
    public long RequestsWaiting => _slots.GetStatistics()?.CurrentQueuedCount ?? 0;

    /// <summary>
    /// One storage request: <paramref name="send"/> is called once a slot is free (within the timeout, or never, and
    /// the caller gets 503), and its answer is awaited for at most the timeout.
    /// </summary>
    public async Task Request(Func<Task> send) => await Request(async () =>
    {
        await send();
        return true;
    });

    /// <summary>A storage request with an answer, bounded like <see cref="Request(Func{Task})"/>.</summary>
    public async Task<T> Request<T>(Func<Task<T>> send)
    {
        var lease = await Slot();
        Task<T> operation;
        try
        {
            operation = send();
        }
        catch
        {
            lease.Dispose();
            throw;
        }
        // The slot is storage's until the request really ends, not when its caller stops waiting: an abandoned request
        // still costs storage its answer (the SDK's own timeout and retries, fitted to the storage timeout, end it).
        _ = operation.ContinueWith(static (_, held) => ((RateLimitLease)held!).Dispose(), lease, CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        await Run(operation);
        return await operation;
    }

    private async Task<RateLimitLease> Slot()
    {
        using var waited = new CancellationTokenSource(timeout, _time);
        try
        {
            var lease = await _slots.AcquireAsync(1, waited.Token);
            if (lease.IsAcquired)
            {
                return lease;
            }
            lease.Dispose();
        }
        catch (OperationCanceledException) when (waited.IsCancellationRequested)
        {
        }
        throw Unavailable($"Storage is busy: no request went out within {timeout.TotalSeconds:0.#} s ({requestsInFlight} in flight) and nothing was sent. Retry later.", null);
    }

    /// <summary>Runs <paramref name="operation"/> for at most the timeout.</summary>
    public async Task Run(Task operation)
    {
        try
        {
            // The operation itself cannot be cancelled: abandoned, it may still land, which the device grain's
            // re-read after a failed write is there for.
            await operation.WaitAsync(timeout, _time);
        }
        catch (TimeoutException e)
        {
            // This bound's own timeout: its stack says nothing the message does not (a restart's catching up logged one
            // such stack per request, a review, 2026-12-06). A timeout the operation itself threw keeps its stack.
            throw Unavailable($"Storage did not answer within {timeout.TotalSeconds:0.#} s. Retry later.", operation.IsFaulted ? e : null);
        }
        catch (Exception e) when (IsUnreachable(e))
        {
            throw Unreachable(e);
        }
    }

    /// <summary>
    /// Runs an operation of many requests (a range query) without an overall limit, each request being bounded by the
    /// SDK's network timeout and, for a partition's load, each round trip by the storage timeout (<see cref="RoundTripBound"/>):
    /// only storage that cannot be reached or stopped answering is turned into 503.
    /// </summary>
    public async Task<T> RunLong<T>(Task<T> operation)
    {
        try
        {
            return await operation;
        }
        catch (RoundTripTimeoutException e)
        {
            throw Unavailable($"Storage did not answer within {e.Waited.TotalSeconds:0.#} s. Retry later.", null);
        }
        catch (Exception e) when (IsUnreachable(e))
        {
            throw Unreachable(e);
        }
    }

    /// <summary>
    /// A partition's load, a range query of many pages (<see cref="RunLong{T}"/>): <paramref name="start"/> is called once
    /// a load slot is free, within the load wait or never (the caller gets 503); the slot is held until the load ends.
    /// A <paramref name="background"/> load (one that no single request waits for: a sweep over every partition) first
    /// takes one of half as many background turns, so the loads of such sweeps never fill the slots and a request's own
    /// load goes out at once or behind a few (a statistics call after a restart held device GETs 0.4 s each, typically,
    /// while its window of loads queued ahead of theirs).
    /// </summary>
    public async Task<T> Load<T>(Func<Task<T>> start, bool background = false)
    {
        using var waited = new CancellationTokenSource(_loadWait, _time);
        using var turn = background ? await Take(_backgroundLoads, waited) : null;
        using var lease = await Take(_loadSlots, waited);
        return await RunLong(start());
    }

    private async Task<RateLimitLease> Take(ConcurrencyLimiter limiter, CancellationTokenSource waited)
    {
        RateLimitLease? lease = null;
        try
        {
            lease = await limiter.AcquireAsync(1, waited.Token);
        }
        catch (OperationCanceledException) when (waited.IsCancellationRequested)
        {
        }
        if (lease is not { IsAcquired: true })
        {
            lease?.Dispose();
            throw Unavailable($"Storage is busy: no partition load went out within {_loadWait.TotalSeconds:0.#} s ({LoadsInFlight} in flight) and nothing was sent. Retry later.", null);
        }
        return lease;
    }

    /// <summary>
    /// The caller gets IoT Hub's code and a plain text; what storage said stays in this silo's log, with its stack when
    /// storage said something (a timeout of this bound is its message alone).
    /// </summary>
    private StorageUnavailableException Unavailable(string message, Exception? cause)
    {
        LogUnavailable(logger, cause, message);
        return new StorageUnavailableException(message);
    }

    [LoggerMessage(EventId = 4009, Level = LogLevel.Warning, Message = "{Message}")]
    private static partial void LogUnavailable(ILogger logger, Exception? exception, string message);

    private const string UnreachableMessage =
        "Storage could not be reached or failed the request (a refused connection, a network timeout or a server error). Retry later.";

    /// <summary>How often a request storage gave no answer to is logged: the others meanwhile are counted in the next line.</summary>
    internal static readonly TimeSpan UnreachableLogInterval = TimeSpan.FromSeconds(5);

    private readonly Lock _unreachableGate = new();
    private long? _unreachableLoggedAt;
    private int _unreachableSince;

    /// <summary>
    /// A request that failed unanswered or with storage's own error. Storage's answer (a 503, a 500) keeps its stack, as
    /// before. A request with no answer at all (a refused connection, a reset, the SDK's retries spent on them) is one line
    /// naming the cause, at most one every <see cref="UnreachableLogInterval"/> with the count of those since: with Azurite
    /// stopped 32 s, a review counted 264 such warnings of 55-76 lines each from one silo, 14,446 stack lines saying the
    /// same refused connection (2026-12-07).
    /// </summary>
    private StorageUnavailableException Unreachable(Exception cause)
    {
        if (Answered(cause))
        {
            return Unavailable(UnreachableMessage, cause);
        }
        int since;
        lock (_unreachableGate)
        {
            var now = _time.GetTimestamp();
            if (_unreachableLoggedAt is { } last && _time.GetElapsedTime(last, now) < UnreachableLogInterval)
            {
                _unreachableSince++;
                return new StorageUnavailableException(UnreachableMessage);
            }
            since = _unreachableSince;
            _unreachableSince = 0;
            _unreachableLoggedAt = now;
        }
        LogUnreachable(logger, UnreachableMessage, Innermost(cause), since, UnreachableLogInterval.TotalSeconds);
        return new StorageUnavailableException(UnreachableMessage);
    }

    [LoggerMessage(EventId = 4025, Level = LogLevel.Warning,
        Message = "{Message} No answer: {Cause} ({Since} more requests since the last such line, logged at most every {Interval} s)")]
    private static partial void LogUnreachable(ILogger logger, string message, string cause, int since, double interval);

    /// <summary>Whether storage answered (an HTTP status) anywhere in the exception's chain, aggregates included.</summary>
    private static bool Answered(Exception? e) => e switch
    {
        null => false,
        RequestFailedException { Status: > 0 } => true,
        AggregateException aggregate => aggregate.InnerExceptions.Any(Answered),
        _ => Answered(e.InnerException),
    };

    /// <summary>The message of the first innermost exception: the socket's or the network's own words, without the SDK's retry dump.</summary>
    private static string Innermost(Exception e)
    {
        while (true)
        {
            var inner = e is AggregateException { InnerExceptions.Count: > 0 } aggregate ? aggregate.InnerExceptions[0] : e.InnerException;
            if (inner is null)
            {
                return $"{e.GetType().Name}: {e.Message}";
            }
            e = inner;
        }
    }

    /// <summary>No answer at all, or storage saying it is unavailable: anything else is an answer to pass on.</summary>
    private static bool IsUnreachable(Exception e) => e switch
    {
        RequestFailedException { Status: 0 or 408 or >= 500 } => true,
        RequestFailedException => false, // e.g. 412: a conflict, handled by the grain as such
        HttpRequestException or SocketException or IOException or TimeoutException => true,
        // The storage SDK gave up after its retries: each try it aggregates ended in an answer of storage's or a
        // cancellation, and a caller's own cancellation is thrown at once, never retried, so a cancellation in here is the
        // SDK's network timeout (a request that waited past it for a connection of the silo's pool carries no socket
        // error). Taken for an answer, an index partition whose lease write so timed out failed its activation with a 500
        // and each import line behind it was logged as failed (the 100k import kill on an overloaded machine, 2026-12-05).
        AggregateException aggregate => aggregate.InnerExceptions.Any(inner => inner is OperationCanceledException || IsUnreachable(inner)),
        _ => e.InnerException is { } innerException && IsUnreachable(innerException),
    };
}
