using System.Threading.Channels;
using Registry.Abstractions;
using Registry.Client;

namespace Registry.Tests.Infrastructure;

/// <summary>
/// A client app's subscription to one source's registry streams, recording what it receives. "Nothing arrived" is
/// proved without waiting on a clock: <see cref="UntilBarrierAsync"/> produces an event of its own on each stream that
/// carries the devices asked about, and whatever the registry had produced on a stream before it is delivered before it.
/// </summary>
public sealed class EventRecorder : IAsyncDisposable
{
    public const string BarrierOpType = "test-barrier";

    private readonly Channel<RegistryEvent> _received = Channel.CreateUnbounded<RegistryEvent>();
    private readonly IClusterClient _client;
    private readonly string _source;
    private RegistryEventSubscription? _subscription;

    private EventRecorder(IClusterClient client, string source) => (_client, _source) = (client, source);

    /// <summary>Subscribes through <paramref name="client"/>'s stream provider, as a client app on the grain interfaces does.</summary>
    public static async Task<EventRecorder> SubscribeAsync(IClusterClient client, string source)
    {
        var recorder = new EventRecorder(client, source);
        recorder._subscription = await RegistryEventSubscription.SubscribeAsync(client, source, e => recorder._received.Writer.WriteAsync(e).AsTask());
        return recorder;
    }

    /// <summary>A hand-made event of <paramref name="source"/> that no registry operation produces.</summary>
    public static RegistryEvent Barrier(string source)
    {
        var id = "barrier-" + Guid.NewGuid().ToString("N");
        return new()
        {
            Source = source,
            OpType = BarrierOpType,
            DeviceId = id,
            OperationTimestamp = DateTime.UtcNow,
            SystemProperties = new Dictionary<string, string> { ["iothub-connection-device-id"] = id },
            ApplicationProperties = new Dictionary<string, string> { ["opType"] = BarrierOpType, ["deviceId"] = id },
            Body = $$"""{"deviceId":"{{id}}"}""",
        };
    }

    /// <summary>
    /// Produces a barrier through <paramref name="client"/> onto each of <paramref name="source"/>'s streams that carries
    /// one of <paramref name="deviceIds"/> (a device's events all take one stream, in order); returns the barriers' device ids.
    /// </summary>
    public static async Task<IReadOnlySet<string>> ProduceBarriersAsync(IClusterClient client, string source, IEnumerable<string> deviceIds)
    {
        var streams = RegistryEventSubscription.StreamsOf(client, source);
        var keys = deviceIds.Select(RegistryStreams.KeyOf).ToHashSet();
        var barriers = new HashSet<string>(StringComparer.Ordinal);
        foreach (var stream in streams.Where((_, i) => keys.Contains(RegistryStreams.Keys[i])))
        {
            var barrier = Barrier(source);
            await stream.OnNextAsync(barrier);
            barriers.Add(barrier.DeviceId);
        }
        return barriers;
    }

    /// <summary>Produces barriers behind <paramref name="deviceIds"/>'s events and returns every event received before them whose device is one of them.</summary>
    public async Task<IReadOnlyList<RegistryEvent>> UntilBarrierAsync(IEnumerable<string> deviceIds, CancellationToken cancellationToken = default)
    {
        var mine = deviceIds.ToHashSet(StringComparer.Ordinal);
        var barriers = new HashSet<string>(await ProduceBarriersAsync(_client, _source, mine), StringComparer.Ordinal);
        var seen = new List<RegistryEvent>();
        while (barriers.Count > 0)
        {
            var received = await _received.Reader.ReadAsync(cancellationToken);
            if (barriers.Remove(received.DeviceId))
            {
                continue;
            }
            if (mine.Contains(received.DeviceId))
            {
                seen.Add(received);
            }
        }
        return seen;
    }

    public async ValueTask DisposeAsync()
    {
        if (_subscription is not null)
        {
            await _subscription.UnsubscribeAsync();
        }
    }
}
