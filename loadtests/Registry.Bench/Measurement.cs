using System.Diagnostics;
using HdrHistogram;

namespace Registry.Bench;

/// <summary>
/// One timed phase: operations per second over a fixed duration with N concurrent workers, latency percentiles, and
/// what the process's garbage collector did meanwhile (collections by generation, time paused, bytes allocated per
/// operation), so a slow phase can be told apart from a phase that paused.
/// </summary>
internal sealed record PhaseResult(string Name, double OpsPerSecond, double P50Ms, double P99Ms, long Errors)
{
    public GcActivity Gc { get; init; } = GcActivity.None;
}

/// <summary>The process's GC work over a phase (counts are differences of the runtime's counters).</summary>
internal sealed record GcActivity(int Gen0, int Gen1, int Gen2, double PauseMs, double BytesPerOp)
{
    public static readonly GcActivity None = new(0, 0, 0, 0, 0);

    public override string ToString() =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"gc {Gen0}/{Gen1}/{Gen2}, paused {PauseMs:0} ms, {BytesPerOp:0} B/op");

    public static (int, int, int, TimeSpan, long) Snapshot() =>
        (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), GC.GetTotalPauseDuration(), GC.GetTotalAllocatedBytes(false));

    public static GcActivity Since((int G0, int G1, int G2, TimeSpan Pause, long Allocated) before, long operations)
    {
        var (g0, g1, g2, pause, allocated) = Snapshot();
        return new(g0 - before.G0, g1 - before.G1, g2 - before.G2, (pause - before.Pause).TotalMilliseconds,
            operations == 0 ? 0 : (double)(allocated - before.Allocated) / operations);
    }
}

internal static class Measurement
{
    /// <summary>
    /// Runs <paramref name="operation"/> from <paramref name="concurrency"/> workers until <paramref name="duration"/>
    /// passes. Each call gets a process-wide sequence number, so phases that create things never repeat a key.
    /// </summary>
    public static async Task<PhaseResult> RunAsync(string name, int concurrency, TimeSpan duration, Func<long, Task<bool>> operation)
    {
        var phase = new Phase(name, concurrency, operation);
        await phase.RunSliceAsync(duration);
        return phase.Result();
    }

    /// <summary>
    /// Runs <paramref name="phases"/> for <paramref name="duration"/> each, interleaved in slices of
    /// <paramref name="slice"/> (the order rotating every turn), so a machine whose load drifts during a round weighs
    /// on every phase alike and their ratio compares like with like.
    /// </summary>
    public static async Task<PhaseResult[]> RunInterleavedAsync(TimeSpan duration, TimeSpan slice, params Phase[] phases)
    {
        var turns = Math.Max(1, (int)Math.Round(duration / slice));
        for (var turn = 0; turn < turns; turn++)
        {
            for (var i = 0; i < phases.Length; i++)
            {
                await phases[(turn + i) % phases.Length].RunSliceAsync(duration / turns);
            }
        }
        return phases.Select(p => p.Result()).ToArray();
    }

    /// <summary>One measured operation, accumulated over the slices it ran in.</summary>
    internal sealed class Phase(string name, int concurrency, Func<long, Task<bool>> operation)
    {
        private static long s_sequence;
        private readonly LongConcurrentHistogram _histogram = new(1, TimeStamp.Minutes(1), 3);

        /// <summary>
        /// Records one call's latency in stopwatch ticks; one beyond the histogram's range (a minute) is recorded at its
        /// top. HdrHistogram throws for it, and a routed durable create that took over a minute on an overloaded Azurite
        /// ended a whole run with <see cref="IndexOutOfRangeException"/> (2026-12-07).
        /// </summary>
        internal void Record(long ticks) => _histogram.RecordValue(Math.Clamp(ticks, 1, _histogram.HighestTrackableValue));

        /// <summary>The latency at <paramref name="percentile"/>, in milliseconds.</summary>
        internal double PercentileMs(double percentile) => _histogram.GetValueAtPercentile(percentile) * 1000.0 / Stopwatch.Frequency;
        private long _completed, _errors;
        private TimeSpan _elapsed;
        private int _gen0, _gen1, _gen2;
        private double _pauseMs, _allocated;

        public async Task RunSliceAsync(TimeSpan duration)
        {
            long completed = 0;
            var gc = GcActivity.Snapshot();
            var stopwatch = Stopwatch.StartNew();
            var workers = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
            {
                while (stopwatch.Elapsed < duration)
                {
                    var n = Interlocked.Increment(ref s_sequence);
                    var start = Stopwatch.GetTimestamp();
                    var ok = await operation(n);
                    Record(Stopwatch.GetTimestamp() - start);
                    Interlocked.Increment(ref completed);
                    if (!ok)
                    {
                        Interlocked.Increment(ref _errors);
                    }
                }
            })).ToArray();
            await Task.WhenAll(workers);
            _elapsed += stopwatch.Elapsed;
            _completed += completed;
            var activity = GcActivity.Since(gc, completed);
            (_gen0, _gen1, _gen2) = (_gen0 + activity.Gen0, _gen1 + activity.Gen1, _gen2 + activity.Gen2);
            _pauseMs += activity.PauseMs;
            _allocated += activity.BytesPerOp * completed;
        }

        public PhaseResult Result() => new(name, _completed / _elapsed.TotalSeconds, PercentileMs(50), PercentileMs(99), _errors)
        { Gc = new GcActivity(_gen0, _gen1, _gen2, _pauseMs, _completed == 0 ? 0 : _allocated / _completed) };
    }

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    /// <summary>This process's resident memory after a full compacting collection, so only live memory counts.</summary>
    public static long Rss()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        using var self = Process.GetCurrentProcess();
        return self.WorkingSet64;
    }

    /// <summary>The machine's 1/5/15-minute load averages, for reports to say what shared the cores.</summary>
    public static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";
}
