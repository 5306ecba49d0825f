using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Registry.Abstractions.Diagnostics;

namespace Registry.Tests.Durability;

/// <summary>
/// Listens to the registry meter's storage counters (<c>registry.storage.writes</c>, <c>registry.storage.requests</c>)
/// and sums them by their <c>store</c> tag. The meter is process-wide and other tests' stores count into it meanwhile,
/// so a test can rely only on its own measurements having arrived (at least).
/// </summary>
internal sealed class StorageMeter : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<(string Instrument, string? Store), long> _sums = new();

    public StorageMeter()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            // By name, as exporters match: the instrument may be published while RegistryMetrics is still initializing.
            if (instrument.Meter.Name == RegistryMetrics.MeterName && instrument.Name.StartsWith("registry.storage.", StringComparison.Ordinal))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string? store = null;
            foreach (var tag in tags)
            {
                if (tag.Key == RegistryMetrics.Tags.Store)
                {
                    store = tag.Value as string;
                }
            }
            _sums.AddOrUpdate((instrument.Name, store), value, (_, sum) => sum + value);
        });
        _listener.Start();
    }

    public long Writes(string? store) => _sums.GetValueOrDefault(("registry.storage.writes", store));

    public long Requests(string store) => _sums.GetValueOrDefault(("registry.storage.requests", store));

    public void Dispose() => _listener.Dispose();
}
