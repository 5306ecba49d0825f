using System.Diagnostics.Metrics;
using Registry.Abstractions.Diagnostics;

namespace Registry.Tests.Observability;

/// <summary>The heartbeat path's counter costs no allocation, even while an exporter listens.</summary>
public sealed class RegistryMetricsTests
{
    [Fact]
    public void Counting_a_heartbeat_allocates_nothing_while_a_listener_records_it()
    {
        long seen = 0;
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                // By name, as exporters match: the instrument may be published while RegistryMetrics is still initializing.
                if (instrument.Meter.Name == RegistryMetrics.MeterName && instrument.Name == "registry.heartbeats")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref seen, value));
        listener.Start();
        RegistryMetrics.Heartbeats.Add(1);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1_000; i++)
        {
            RegistryMetrics.Heartbeats.Add(1);
        }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        // Other tests' hosts may count heartbeats into the same process-wide meter meanwhile: at least ours arrived.
        Assert.True(Interlocked.Read(ref seen) >= 1_001, $"{seen}");
    }
}
