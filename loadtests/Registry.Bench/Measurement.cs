using System.Diagnostics;
using HdrHistogram;

namespace Registry.Bench;

/// <summary>One timed phase: operations per second over a fixed duration with N concurrent workers, and latency percentiles.</summary>
internal sealed record PhaseResult(string Name, double OpsPerSecond, double P50Ms, double P99Ms, long Errors);

internal static class Measurement
{
    /// <summary>
    /// Runs <paramref name="operation"/> from <paramref name="concurrency"/> workers until <paramref name="duration"/>
    /// passes. Each call gets a process-wide sequence number, so phases that create things never repeat a key.
    /// </summary>
    public static async Task<PhaseResult> RunAsync(string name, int concurrency, TimeSpan duration, Func<long, Task<bool>> operation)
    {
        var histogram = new LongConcurrentHistogram(1, TimeStamp.Minutes(1), 3);
        long completed = 0, errors = 0, sequence = 0;
        var stopwatch = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            while (stopwatch.Elapsed < duration)
            {
                var n = Interlocked.Increment(ref sequence);
                var start = Stopwatch.GetTimestamp();
                var ok = await operation(n);
                histogram.RecordValue(Math.Max(1, Stopwatch.GetTimestamp() - start));
                Interlocked.Increment(ref completed);
                if (!ok)
                {
                    Interlocked.Increment(ref errors);
                }
            }
        })).ToArray();
        await Task.WhenAll(workers);
        var seconds = stopwatch.Elapsed.TotalSeconds;
        return new PhaseResult(name, completed / seconds,
            histogram.GetValueAtPercentile(50) * 1000.0 / Stopwatch.Frequency,
            histogram.GetValueAtPercentile(99) * 1000.0 / Stopwatch.Frequency,
            errors);
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
