using System.Threading.Channels;
using Orleans.Streams;
using Registry.Abstractions;

namespace Registry.Tests.Infrastructure;

/// <summary>
/// A client app's subscription to one source's registry stream, recording what it receives. "Nothing arrived" is
/// proved without waiting on a clock: <see cref="UntilBarrierAsync"/> produces an event of its own on the same stream,
/// and whatever the registry had produced before it is delivered before it.
/// </summary>
public sealed class EventRecorder : IAsyncDisposable
{
    public const string BarrierOpType = "test-barrier";

    private readonly Channel<RegistryEvent> _received = Channel.CreateUnbounded<RegistryEvent>();
    private readonly IAsyncStream<RegistryEvent> _stream;
    private StreamSubscriptionHandle<RegistryEvent>? _subscription;

    private EventRecorder(IAsyncStream<RegistryEvent> stream) => _stream = stream;

    /// <summary>Subscribes through <paramref name="client"/>'s stream provider, as a client app on the grain interfaces does.</summary>
    public static async Task<EventRecorder> SubscribeAsync(IClusterClient client, string source)
    {
        var stream = client.GetStreamProvider(RegistryStreams.Provider).GetStream<RegistryEvent>(StreamId.Create(source, RegistryStreams.Key));
        var recorder = new EventRecorder(stream);
        recorder._subscription = await stream.SubscribeAsync((e, _) => recorder._received.Writer.WriteAsync(e).AsTask());
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

    /// <summary>Produces a barrier onto <paramref name="source"/>'s stream through <paramref name="client"/>; returns its device id.</summary>
    public static async Task<string> ProduceBarrierAsync(IClusterClient client, string source)
    {
        var barrier = Barrier(source);
        await client.GetStreamProvider(RegistryStreams.Provider).GetStream<RegistryEvent>(StreamId.Create(source, RegistryStreams.Key)).OnNextAsync(barrier);
        return barrier.DeviceId;
    }

    /// <summary>Produces a barrier onto the stream and returns every event received before it whose device is one of <paramref name="deviceIds"/>.</summary>
    public async Task<IReadOnlyList<RegistryEvent>> UntilBarrierAsync(IEnumerable<string> deviceIds, CancellationToken cancellationToken = default)
    {
        var mine = deviceIds.ToHashSet(StringComparer.Ordinal);
        var barrier = Barrier(_stream.StreamId.GetNamespace()!);
        await _stream.OnNextAsync(barrier);
        var seen = new List<RegistryEvent>();
        while (true)
        {
            var received = await _received.Reader.ReadAsync(cancellationToken);
            if (received.DeviceId == barrier.DeviceId)
            {
                return seen;
            }
            if (mine.Contains(received.DeviceId))
            {
                seen.Add(received);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_subscription is not null)
        {
            await _subscription.UnsubscribeAsync();
        }
    }
}
