using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Streams;
using Registry.Abstractions;
using Registry.Abstractions.Diagnostics;

namespace Registry.Grains.Events;

/// <summary>
/// The sink once a route exists: each event goes onto its device's stream among its source's streams
/// (<see cref="RegistryStreams.KeyOf"/>), where client apps and the gateway's server-sent events subscribe. Memory
/// streams embedded, Azure Queue streams durable: the host chooses the provider, this class only names it.
/// <para>
/// Each stream's publishes group-commit: the events raised while one is in flight go together as the next, one
/// stream item batch (<see cref="MaxBatch"/> events or <see cref="MaxBatchChars"/> of them at most; a lone event goes at
/// once), which Azure Queue streams store as one queue message. One message per event put a 100-device bulk's events
/// in 100 messages, and Azurite, whose queue requests cost in proportion to the queue's depth, fell behind within
/// seconds (README Known limits). A stream's items are sent one batch after the other, in the order they were raised,
/// so a device's events keep their order; each caller learns its own event's outcome (a refused batch refuses each).
/// </para>
/// </summary>
public sealed class StreamEventSink : IRegistryEventSink
{
    /// <summary>Most events in one stream batch (one queue message).</summary>
    public const int MaxBatch = 32;

    /// <summary>
    /// Most characters of events' bodies and properties in one batch: an Azure queue message holds 64 KiB, base64
    /// takes a third more, and serialization adds its framing.
    /// </summary>
    public const int MaxBatchChars = 16 * 1024;

    private readonly IReadOnlySet<string> _routed;
    private readonly Func<StreamId, RegistryEvent[], Task> _send;
    private readonly ConcurrentDictionary<StreamId, Lane> _streams = new();

    // Resolved on first use: the provider is built with the silo, after the singletons that take this sink.
    private IStreamProvider? _provider;

    public StreamEventSink(IServiceProvider services, IOptions<RegistryEventOptions> options)
    {
        _routed = options.Value.RoutedSources;
        _send = (id, events) => SendToStream(services, id, events);
    }

    /// <summary>A sink whose batches go to <paramref name="send"/> (one call per batch, in order per stream): for tests.</summary>
    internal StreamEventSink(IOptions<RegistryEventOptions> options, Func<StreamId, RegistryEvent[], Task> send)
    {
        _routed = options.Value.RoutedSources;
        _send = send;
    }

    /// <summary>Batches sent so far (a lone event counts as one): fewer than events when publishes shared batches.</summary>
    public long Batches => Interlocked.Read(ref _batches);

    private long _batches;

    public bool IsRouted(string source) => _routed.Contains(source);

    /// <summary>An event of an unrouted source is dropped here too, so no caller can produce one by skipping <see cref="IsRouted"/>.</summary>
    public Task Publish(RegistryEvent registryEvent)
    {
        if (!IsRouted(registryEvent.Source))
        {
            return Task.CompletedTask;
        }
        var stream = StreamId.Create(registryEvent.Source, RegistryStreams.KeyOf(registryEvent.DeviceId));
        var sent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var lane = _streams.GetOrAdd(stream, id => new Lane(
            new GroupCommit<Publication>(MaxBatch, p => Chars(p.Event), MaxBatchChars), batch => Send(id, batch)));
        lane.Commit.Add(new Publication(registryEvent, sent), lane.Send);
        return sent.Task;
    }

    private async Task Send(StreamId id, Publication[] batch)
    {
        Interlocked.Increment(ref _batches);
        try
        {
            await _send(id, [.. batch.Select(p => p.Event)]);
        }
        catch (Exception e)
        {
            foreach (var publication in batch)
            {
                publication.Sent.TrySetException(e);
            }
            return;
        }
        RegistryMetrics.EventsPublished.Add(batch.Length, new KeyValuePair<string, object?>(RegistryMetrics.Tags.Source, batch[0].Event.Source));
        foreach (var publication in batch)
        {
            publication.Sent.TrySetResult();
        }
    }

    private Task SendToStream(IServiceProvider services, StreamId id, RegistryEvent[] events)
    {
        _provider ??= services.GetRequiredKeyedService<IStreamProvider>(RegistryStreams.Provider);
        var stream = _provider.GetStream<RegistryEvent>(id);
        return events.Length == 1 ? stream.OnNextAsync(events[0]) : stream.OnNextBatchAsync(events);
    }

    /// <summary>The characters an event carries (body, properties' names and values), which bound its serialized size.</summary>
    private static int Chars(RegistryEvent e) =>
        e.Body.Length + e.DeviceId.Length + e.Source.Length + e.OpType.Length
        + e.SystemProperties.Sum(p => p.Key.Length + p.Value.Length)
        + e.ApplicationProperties.Sum(p => p.Key.Length + p.Value.Length);

    private sealed record Publication(RegistryEvent Event, TaskCompletionSource Sent);

    /// <summary>A stream's group commit and its send, made once per stream rather than per publish.</summary>
    private sealed record Lane(GroupCommit<Publication> Commit, Func<Publication[], Task> Send);
}
