namespace Registry.Host;

/// <summary>
/// The request slots of a group-committing store, as many as storage answers promptly: a request slower than
/// <c>slowRequest</c> (or one that timed out, which is slower still) halves them, and each full round of prompt answers
/// (as many as there are slots) adds one back, up to the configured number and never below one.
/// <para>
/// Fixed slots kept a saturated storage saturated. Three silos importing 100k devices into one Azurite kept 24 entity
/// group transactions of 100 rows in flight; each took longer than the request timeout, the SDK sent it again while
/// Azurite still worked on the first, and the job's own checkpoint write queued behind them until it timed out too.
/// With fewer requests in flight, writes wait in the store's queues instead, where they join fuller transactions.
/// Measured (docs/storage.md §9): no cost to a single registry's import; it did not, alone, make that three-silo
/// import pass, because a create's storage bound counts its wait in the queue too.
/// </para>
/// </summary>
public sealed partial class AdaptiveSlots
{
    /// <summary>Where no storage timeout is given: half the default <c>Registry:StorageTimeoutSeconds</c>.</summary>
    public static readonly TimeSpan DefaultSlowRequest = TimeSpan.FromSeconds(2.5);

    private readonly object _lock = new();
    private readonly Queue<TaskCompletionSource> _waiting = new();
    private readonly int _max;
    private readonly TimeSpan _slow;
    private readonly TimeProvider _time;
    private readonly string _store;
    private readonly ILogger? _logger;
    private int _limit;
    private int _inUse;
    private int _prompt;
    private long _lastCut;

    /// <param name="max">The configured number of slots (<c>Registry:StorageRequestsInFlight</c>).</param>
    /// <param name="slowRequest">An answer this slow halves the slots (the host gives half its storage timeout).</param>
    /// <param name="store">The store's name in the log line a cut writes.</param>
    /// <param name="logger">Where a cut is logged (none: not logged).</param>
    /// <param name="time">The clock answers are timed by (a fake one in tests).</param>
    public AdaptiveSlots(int max, TimeSpan slowRequest, string store, ILogger? logger = null, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(slowRequest, TimeSpan.Zero);
        _max = _limit = max;
        _slow = slowRequest;
        _time = time ?? TimeProvider.System;
        _store = store;
        _logger = logger;
        _lastCut = _time.GetTimestamp();
    }

    /// <summary>The slots there are now: between 1 and the configured number.</summary>
    public int Limit
    {
        get
        {
            lock (_lock)
            {
                return _limit;
            }
        }
    }

    /// <summary>Takes a slot, waiting while every slot is in use. Returns when the request started, for <see cref="Release"/>.</summary>
    public async ValueTask<long> WaitAsync()
    {
        Task? wait = null;
        lock (_lock)
        {
            if (_inUse < _limit)
            {
                _inUse++;
            }
            else
            {
                var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiting.Enqueue(waiter);
                wait = waiter.Task;
            }
        }
        if (wait is not null)
        {
            await wait; // the slot was handed over by Release
        }
        return _time.GetTimestamp();
    }

    /// <summary>Gives back a slot no request was sent with (what it was taken for had expired): no answer to time.</summary>
    public void Return()
    {
        TaskCompletionSource? next = null;
        lock (_lock)
        {
            if (_inUse <= _limit && _waiting.TryDequeue(out next))
            {
                // handed over: the slot stays in use
            }
            else
            {
                _inUse--;
            }
        }
        next?.SetResult();
    }

    /// <summary>
    /// Gives back the slot of a request that started at <paramref name="started"/> (what <see cref="WaitAsync"/> returned),
    /// answered or failed. Returns true when its slowness cut the slots.
    /// </summary>
    public bool Release(long started)
    {
        var cut = false;
        var elapsed = _time.GetElapsedTime(started);
        int limit;
        List<TaskCompletionSource>? admitted = null;
        lock (_lock)
        {
            if (elapsed >= _slow)
            {
                // Requests sent before the last cut met the same congestion: one cut per episode, not one per request.
                if (started >= _lastCut && _limit > 1)
                {
                    _limit = Math.Max(1, _limit / 2);
                    _lastCut = _time.GetTimestamp();
                    cut = true;
                }
                _prompt = 0;
            }
            else if (_limit < _max && ++_prompt >= _limit)
            {
                _limit++;
                _prompt = 0;
            }
            _inUse--;
            while (_inUse < _limit && _waiting.TryDequeue(out var next))
            {
                _inUse++;
                (admitted ??= []).Add(next);
            }
            limit = _limit;
        }
        if (cut && _logger is not null)
        {
            LogCut(_logger, _store, elapsed.TotalSeconds, limit, _max);
        }
        foreach (var next in admitted ?? [])
        {
            next.SetResult();
        }
        return cut;
    }

    [LoggerMessage(EventId = 2252, Level = LogLevel.Information, Message = "Storage answered a {Store} request in {Seconds:0.0} s: the store now keeps at most {Limit} of its {Max} requests in flight, and adds one back after each round of prompt answers")]
    private static partial void LogCut(ILogger logger, string store, double seconds, int limit, int max);
}
