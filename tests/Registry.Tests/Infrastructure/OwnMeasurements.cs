using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Registry.Abstractions.Diagnostics;

namespace Registry.Tests.Infrastructure;

/// <summary>
/// The measurements of one of the registry's instruments made by the calling test's own flow (its awaits and the tasks
/// it starts): the meter is process-wide, and other tests' silos record into it meanwhile.
/// </summary>
public sealed class OwnMeasurements : IDisposable
{
    private readonly AsyncLocal<bool> _ours = new() { Value = true };
    private readonly MeterListener _listener;
    private readonly ConcurrentDictionary<string, long> _byTag = new(StringComparer.Ordinal);
    private long _sum;

    /// <summary>Starts listening to <paramref name="instrument"/>; <paramref name="tag"/> names the tag <see cref="By"/> sums by.</summary>
    public OwnMeasurements(string instrument, string? tag = null)
    {
        _listener = new MeterListener
        {
            InstrumentPublished = (published, listener) =>
            {
                if (published.Meter.Name == RegistryMetrics.MeterName && published.Name == instrument)
                {
                    listener.EnableMeasurementEvents(published);
                }
            },
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            if (!_ours.Value)
            {
                return;
            }
            Interlocked.Add(ref _sum, value);
            foreach (var t in tags)
            {
                if (t.Key == tag)
                {
                    _byTag.AddOrUpdate(t.Value?.ToString() ?? "", value, (_, v) => v + value);
                }
            }
        });
        _listener.Start();
    }

    /// <summary>The sum of this flow's measurements.</summary>
    public long Sum => Interlocked.Read(ref _sum);

    /// <summary>The sum of this flow's measurements carrying the tag's <paramref name="value"/>.</summary>
    public long By(string value) => _byTag.GetValueOrDefault(value);

    public void Dispose() => _listener.Dispose();
}
