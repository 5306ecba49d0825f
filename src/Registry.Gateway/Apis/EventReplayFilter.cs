using System.Globalization;
using Registry.Abstractions;

namespace Registry.Gateway.Apis;

/// <summary>
/// What one SSE consumer is handed of its subscription's deliveries: events raised while it is subscribed, each once. A
/// durable stream delivers again what some subscriber has not taken: after a gateway dies, its dead subscription keeps
/// the queue's messages, which come back to every live subscriber each visibility timeout (30 s) until Orleans drops it
/// (minutes): older events, again and out of order (hostile re-check, 2026-12-04). An event enqueued more than
/// <paramref name="tolerance"/> before <paramref name="subscribedAt"/> (silos' clocks may differ a little) is not the
/// consumer's; one whose <c>correlation-id</c> it was handed already (the last <paramref name="remembered"/>) is a repeat.
/// </summary>
internal sealed class EventReplayFilter(DateTime subscribedAt, TimeSpan tolerance, int remembered = EventReplayFilter.Remembered)
{
    public const int Remembered = 4096;

    private readonly HashSet<string> _seen = new(StringComparer.Ordinal);
    private readonly Queue<string> _order = new();
    private readonly Lock _lock = new();

    public bool Admit(RegistryEvent registryEvent)
    {
        var properties = registryEvent.SystemProperties;
        if (properties.TryGetValue("iothub-enqueuedtime", out var enqueued)
            && DateTime.TryParse(enqueued, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var at)
            && at < subscribedAt - tolerance)
        {
            return false;
        }
        if (!properties.TryGetValue("correlation-id", out var correlation))
        {
            return true;
        }
        lock (_lock)
        {
            if (!_seen.Add(correlation))
            {
                return false;
            }
            _order.Enqueue(correlation);
            if (_order.Count > remembered)
            {
                _seen.Remove(_order.Dequeue());
            }
            return true;
        }
    }
}
