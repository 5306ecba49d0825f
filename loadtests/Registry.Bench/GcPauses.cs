using System.Diagnostics.Tracing;
using System.Globalization;

namespace Registry.Bench;

/// <summary>The pauses the runtime's garbage collector made over a window: how many, their total and the longest.</summary>
internal sealed record GcPauseStats(int Count, double TotalMs, double MaxMs)
{
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Count} GC pauses, {TotalMs:0} ms in all, longest {MaxMs:0.0} ms");
}

/// <summary>
/// Listens to this process's own GC events (suspension begin to restart end, as the runtime reports them), so a latency
/// tail can be laid beside the pauses of the same window instead of being attributed to GC by guess.
/// </summary>
internal sealed class GcPauses : EventListener
{
    private readonly Lock _lock = new();
    private DateTime _suspended;
    private int _count;
    private double _totalMs, _maxMs;

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(source, EventLevel.Informational, (EventKeywords)0x1); // GC keyword
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        lock (_lock)
        {
            if (e.EventName is "GCSuspendEEBegin_V1")
            {
                _suspended = e.TimeStamp;
            }
            else if (e.EventName is "GCRestartEEEnd_V1" && _suspended != default)
            {
                var ms = (e.TimeStamp - _suspended).TotalMilliseconds;
                _suspended = default;
                _count++;
                _totalMs += ms;
                _maxMs = Math.Max(_maxMs, ms);
            }
        }
    }

    /// <summary>The pauses since the last call (or since the listener started), and a new window from now.</summary>
    public GcPauseStats Take()
    {
        lock (_lock)
        {
            var stats = new GcPauseStats(_count, _totalMs, _maxMs);
            (_count, _totalMs, _maxMs) = (0, 0, 0);
            return stats;
        }
    }
}
