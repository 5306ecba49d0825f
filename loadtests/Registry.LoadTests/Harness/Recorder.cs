using System.Collections.Concurrent;
using HdrHistogram;

namespace Registry.LoadTests.Harness;

/// <summary>
/// What one step measured, second by second: calls submitted and completed, failures by kind, and latency in
/// microseconds in HdrHistograms (one per second for the plots, merged for the totals). Thread-safe.
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

    public long Submitted => Interlocked.Read(ref _submitted);

    public long Completed => Interlocked.Read(ref _completed);

    public long Ok => Interlocked.Read(ref _ok);

    public long InFlight => Submitted - Completed;

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

    /// <summary>A call that never answered before the step gave up on it; it has no latency to record.</summary>
    public void Abandon(string failure, long count)
    {
        Interlocked.Add(ref _completed, count);
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

    public IReadOnlyList<TimelinePoint> Timeline() =>
        _seconds.OrderBy(kv => kv.Key).Select(kv => new TimelinePoint(
            kv.Key,
            Interlocked.Read(ref kv.Value.Submitted),
            Interlocked.Read(ref kv.Value.Completed),
            Interlocked.Read(ref kv.Value.Failed),
            LatencySummary.Of(kv.Value.Latency))).ToList();

    private Bucket BucketAt(double second) => _seconds.GetOrAdd(Math.Max(0, (int)second), _ => new Bucket());

    private static LongConcurrentHistogram NewHistogram() => new(1, HighestMicroseconds, 3);

    private sealed class Bucket
    {
        public readonly LongConcurrentHistogram Latency = NewHistogram();
        public long Submitted;
        public long Completed;
        public long Failed;
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

/// <summary>One second of a step: calls submitted and completed in it, failures among them, and their latency.</summary>
internal sealed record TimelinePoint(int Second, long Submitted, long Completed, long Failed, LatencySummary Latency);
