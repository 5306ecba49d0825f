using System.Collections.Concurrent;
using HdrHistogram;

namespace Registry.LoadTests.Harness;

/// <summary>
/// What one step measured, second by second: calls submitted, completed (answered, ok or not) and abandoned (never
/// answered), failures by kind, and latency in microseconds in HdrHistograms (one per second for the plots, merged for
/// the totals). Thread-safe.
/// </summary>
internal sealed class Recorder
{
    /// <summary>An hour: a call slower than that is recorded as an hour (an overloaded open run must not throw).</summary>
    public const long HighestMicroseconds = 3_600_000_000;

    private readonly ConcurrentDictionary<int, Bucket> _seconds = new();
    private readonly ConcurrentDictionary<string, long> _failures = new(StringComparer.Ordinal);
    private long _submitted;
    private long _completed;
    private long _ok;
    private long _abandoned;

    public long Submitted => Interlocked.Read(ref _submitted);

    public long Completed => Interlocked.Read(ref _completed);

    public long Ok => Interlocked.Read(ref _ok);

    /// <summary>Calls given up on at the drain's end: failures, but neither completed nor in flight.</summary>
    public long Abandoned => Interlocked.Read(ref _abandoned);

    public long InFlight => Submitted - Completed - Abandoned;

    public IReadOnlyDictionary<string, long> Failures => new SortedDictionary<string, long>(_failures, StringComparer.Ordinal);

    public void Submit(double second)
    {
        Interlocked.Increment(ref _submitted);
        Interlocked.Increment(ref BucketAt(second).Submitted);
    }

    /// <summary>A call ended: <paramref name="failure"/> null is a success, otherwise the kind of error (an HTTP status, an exception type).</summary>
    public void Complete(double second, long latencyMicroseconds, string? failure)
    {
        var bucket = BucketAt(second);
        bucket.Latency.RecordValue(Math.Clamp(latencyMicroseconds, 1, HighestMicroseconds));
        Interlocked.Increment(ref bucket.Completed);
        Interlocked.Increment(ref _completed);
        if (failure is null)
        {
            Interlocked.Increment(ref _ok);
        }
        else
        {
            Interlocked.Increment(ref bucket.Failed);
            _failures.AddOrUpdate(failure, 1, (_, n) => n + 1);
        }
    }

    /// <summary>
    /// Calls that never answered before the step gave up on them at <paramref name="second"/> (the drain's end): failures
    /// of the kind <paramref name="failure"/>, in that second's failed count so the timeline sums to the totals, but not
    /// completed, so completed calls/s counts answers. Counting them as completed made an overloaded open run report
    /// 59,716 completed of 59,716 submitted for 25,691 answers, while its timeline left them out. They have no latency.
    /// </summary>
    public void Abandon(double second, string failure, long count)
    {
        var bucket = BucketAt(second);
        Interlocked.Add(ref bucket.Abandoned, count);
        Interlocked.Add(ref bucket.Failed, count);
        Interlocked.Add(ref _abandoned, count);
        _failures.AddOrUpdate(failure, count, (_, n) => n + count);
    }

    /// <summary>The last whole second's latency, for the live display.</summary>
    public (double CompletedPerSecond, double P99Ms) Recent(double now)
    {
        var second = (int)now - 1;
        return second >= 0 && _seconds.TryGetValue(second, out var b)
            ? (Interlocked.Read(ref b.Completed), b.Latency.TotalCount == 0 ? 0 : b.Latency.GetValueAtPercentile(99) / 1000.0)
            : (0, 0);
    }

    public LatencySummary Latency()
    {
        var total = NewHistogram();
        foreach (var bucket in _seconds.Values)
        {
            total.Add(bucket.Latency);
        }
        return LatencySummary.Of(total);
    }

    /// <summary>
    /// Every second from the first to the last that saw a call, those where nothing happened included (with zeros and no
    /// latency): a stalled target's seconds were missing, and a plot drew a straight line across them (a hostile
    /// review, 2026-12-04).
    /// </summary>
    public IReadOnlyList<TimelinePoint> Timeline()
    {
        if (_seconds.IsEmpty)
        {
            return [];
        }
        var last = _seconds.Keys.Max();
        return [.. Enumerable.Range(0, last + 1).Select(second => _seconds.TryGetValue(second, out var b)
            ? new TimelinePoint(
                second,
                Interlocked.Read(ref b.Submitted),
                Interlocked.Read(ref b.Completed),
                Interlocked.Read(ref b.Failed),
                LatencySummary.Of(b.Latency),
                Interlocked.Read(ref b.Abandoned))
            : new TimelinePoint(second, 0, 0, 0, LatencySummary.Of(Empty), 0))];
    }

    private static readonly LongConcurrentHistogram Empty = NewHistogram();

    private Bucket BucketAt(double second) => _seconds.GetOrAdd(Math.Max(0, (int)second), _ => new Bucket());

    private static LongConcurrentHistogram NewHistogram() => new(1, HighestMicroseconds, 3);

    private sealed class Bucket
    {
        public readonly LongConcurrentHistogram Latency = NewHistogram();
        public long Submitted;
        public long Completed;
        public long Failed;
        public long Abandoned;
    }
}

/// <summary>Latency percentiles in milliseconds.</summary>
internal sealed record LatencySummary(long Count, double P50, double P75, double P95, double P99, double Max)
{
    public static LatencySummary Of(HistogramBase histogram) => histogram.TotalCount == 0
        ? new LatencySummary(0, 0, 0, 0, 0, 0)
        : new LatencySummary(histogram.TotalCount,
            histogram.GetValueAtPercentile(50) / 1000.0,
            histogram.GetValueAtPercentile(75) / 1000.0,
            histogram.GetValueAtPercentile(95) / 1000.0,
            histogram.GetValueAtPercentile(99) / 1000.0,
            histogram.GetMaxValue() / 1000.0);
}

/// <summary>
/// One second of a step: calls submitted in it, calls answered in it (completed, ok or not) and their latency, and its
/// failures: those among the answers and the calls abandoned in it (the drain's end), which are not completed. Its
/// rows add up to the step's submitted, completed and failed.
/// </summary>
internal sealed record TimelinePoint(int Second, long Submitted, long Completed, long Failed, LatencySummary Latency, long Abandoned = 0)
{
    /// <summary>Calls answered ok in this second.</summary>
    public long Ok => Completed - (Failed - Abandoned);
}
