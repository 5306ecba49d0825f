using System.Threading.RateLimiting;

namespace Registry.Gateway.Throttling;

/// <summary>
/// A token bucket on an injected <see cref="TimeProvider"/>: holds up to one window's operations and earns them back
/// continuously at the rate, computed on each acquisition (no timer). Written instead of
/// <see cref="TokenBucketRateLimiter"/> because that one reads the Stopwatch itself (tests cannot step its time) and,
/// replenished by hand, hands a drained bucket a full refill at once after it sat full.
/// </summary>
/// <remarks>
/// Credit is kept in integers: one operation costs <c>window ticks</c> credit and each elapsed tick earns
/// <c>count</c> credit, so the rate is exact at any count and Retry-After is exact to the tick. There is no queue
/// (IoT Hub's traffic shaping is not reproduced): an acquisition that cannot be served now is refused now.
/// An acquisition of more than one window's operations at once (an HTTPS batch of more messages than the
/// DeviceToCloudSends rate) is admitted when the bucket is full and leaves it in debt: later acquisitions wait until
/// the debt is earned back, where refusing it would refuse it for ever. The debt is at most one window: what follows
/// waits two windows at most, so one request cannot hold the budget longer (the rate over time holds for batches up
/// to two windows' operations; a larger one is charged two windows).
/// </remarks>
internal sealed class TokenBucket : RateLimiter
{
    private static readonly RateLimitLease Acquired = new Lease(true, null);

    private readonly Lock _lock = new();
    private readonly TimeProvider _clock;
    private readonly long _origin;
    private readonly long _count;
    private readonly long _windowTicks;
    private readonly long _capacity;
    private long _credit;
    private long _updatedTicks;
    private long _successful;
    private long _failed;

    public TokenBucket(ThrottleRate rate, TimeProvider clock)
    {
        _clock = clock;
        _origin = clock.GetTimestamp();
        _count = rate.Count;
        _windowTicks = rate.Window.Ticks;
        _capacity = _count * _windowTicks;
        _credit = _capacity;
    }

    public ThrottleRate Rate => new(_count, TimeSpan.FromTicks(_windowTicks));

    /// <summary>How long the bucket has been full (nothing to refuse), or <c>null</c> while it is earning.</summary>
    public override TimeSpan? IdleDuration
    {
        get
        {
            lock (_lock)
            {
                var now = Now();
                var fullAt = _updatedTicks + CeilingDivide(_capacity - _credit, _count);
                return now >= fullAt ? TimeSpan.FromTicks(now - fullAt) : null;
            }
        }
    }

    public override RateLimiterStatistics? GetStatistics()
    {
        lock (_lock)
        {
            Earn(Now());
            return new RateLimiterStatistics
            {
                CurrentAvailablePermits = Math.Max(0, _credit / _windowTicks), // none while in debt
                CurrentQueuedCount = 0,
                TotalSuccessfulLeases = _successful,
                TotalFailedLeases = _failed,
            };
        }
    }

    protected override RateLimitLease AttemptAcquireCore(int permitCount)
    {
        lock (_lock)
        {
            Earn(Now());
            // 0 permits asks "is one available?", as the BCL limiters do; more than the bucket holds needs it full.
            var cost = Math.Min(Math.Max(permitCount, 1) * _windowTicks, _capacity);
            if (_credit >= cost)
            {
                // At most one window of debt, however large the batch: one request of a device's (21,800 empty messages in
                // 256 KB) held every device's sends for 218 s at S1 (hostile review, 2026-12-07).
                _credit -= Math.Min(permitCount, 2 * _count) * _windowTicks;
                _successful++;
                return Acquired;
            }
            _failed++;
            return new Lease(false, TimeSpan.FromTicks(CeilingDivide(cost - _credit, _count)));
        }
    }

    protected override ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken) =>
        ValueTask.FromResult(AttemptAcquireCore(permitCount));

    private long Now() => _clock.GetElapsedTime(_origin).Ticks;

    // Beyond the span that fills the bucket (one window, longer from a debt) it is full anyway; capping the span keeps
    // the product within a long.
    private void Earn(long now)
    {
        var elapsed = Math.Min(now - _updatedTicks, Math.Max(_windowTicks, CeilingDivide(_capacity - _credit, _count)));
        if (elapsed > 0)
        {
            _credit = Math.Min(_capacity, _credit + (elapsed * _count));
        }
        _updatedTicks = Math.Max(_updatedTicks, now);
    }

    private static long CeilingDivide(long value, long divisor) => (value + divisor - 1) / divisor;

    private sealed class Lease(bool isAcquired, TimeSpan? retryAfter) : RateLimitLease
    {
        public override bool IsAcquired => isAcquired;

        public override IEnumerable<string> MetadataNames => retryAfter is null ? [] : [MetadataName.RetryAfter.Name];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            metadata = metadataName == MetadataName.RetryAfter.Name ? retryAfter : null;
            return metadata is not null;
        }
    }
}
