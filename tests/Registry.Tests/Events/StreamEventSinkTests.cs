using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Registry.Abstractions;
using Registry.Abstractions.Diagnostics;
using Registry.Grains.Events;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Events;

/// <summary>
/// The sink's group commit per stream. One queue message per event put a 100-device bulk's events in 100 messages, and
/// a routed durable registry on Azurite fell behind within seconds (README Known limits): events raised while a batch
/// is in flight now go together as the next batch of their stream. The batches here go to a send the test holds open,
/// so "in flight" is the test's to decide.
/// </summary>
public sealed class StreamEventSinkTests
{
    private readonly Channel<(StreamId Stream, RegistryEvent[] Events, TaskCompletionSource Taken)> _sent = Channel.CreateUnbounded<(StreamId, RegistryEvent[], TaskCompletionSource)>();

    private StreamEventSink Sink(params string[] routed) => new(
        Options.Create(new RegistryEventOptions { RoutedSources = new HashSet<string>(routed, StringComparer.Ordinal) }),
        (stream, events) =>
        {
            var taken = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _sent.Writer.TryWrite((stream, events, taken));
            return taken.Task;
        });

    private async Task<(StreamId Stream, RegistryEvent[] Events, TaskCompletionSource Taken)> NextBatch(CancellationToken ct) =>
        await _sent.Reader.ReadAsync(ct);

    /// <summary>Publishes <paramref name="deviceId"/>'s event and returns it with its batch, in flight until the test takes it.</summary>
    private async Task<(Task Published, (StreamId Stream, RegistryEvent[] Events, TaskCompletionSource Taken) Batch)> PublishHeld(
        StreamEventSink sink, string deviceId, CancellationToken ct)
    {
        var published = sink.Publish(Event(deviceId));
        return (published, await NextBatch(ct));
    }

    /// <summary>What the stream took is a metric (<c>registry.events.published</c>), by source: one per event, not per batch.</summary>
    [Fact(Timeout = 30_000)]
    public async Task Each_event_the_stream_took_counts_once_as_published_under_its_source()
    {
        var ct = TestContext.Current.CancellationToken;
        using var published = new OwnMeasurements("registry.events.published", RegistryMetrics.Tags.Source);
        var sink = Sink(RegistryEventSources.DeviceLifecycle);
        var ids = SameStream(4);

        var (first, held) = await PublishHeld(sink, ids[0], ct);
        var rest = ids.Skip(1).Select(id => sink.Publish(Event(id))).ToArray();
        held.Taken.SetException(new InvalidOperationException("refused"));
        await Assert.ThrowsAsync<InvalidOperationException>(() => first);
        (await NextBatch(ct)).Taken.SetResult();
        await Task.WhenAll(rest);

        Assert.Equal(3, published.Sum);
        Assert.Equal(3, published.By(RegistryEventSources.DeviceLifecycle));
    }

    [Fact(Timeout = 30_000)]
    public async Task Events_raised_while_a_batch_is_in_flight_go_together_as_the_next_batch_of_their_stream_in_order()
    {
        var ct = TestContext.Current.CancellationToken;
        var sink = Sink(RegistryEventSources.DeviceLifecycle);
        var ids = SameStream(6);

        var (first, held) = await PublishHeld(sink, ids[0], ct);
        var rest = ids.Skip(1).Select(id => sink.Publish(Event(id))).ToArray();
        Assert.False(first.IsCompleted);
        held.Taken.SetResult();
        await first;
        var next = await NextBatch(ct);
        next.Taken.SetResult();
        await Task.WhenAll(rest);

        Assert.Equal([ids[0]], held.Events.Select(e => e.DeviceId));
        Assert.Equal(ids.Skip(1), next.Events.Select(e => e.DeviceId));
        Assert.Equal(StreamId.Create(RegistryEventSources.DeviceLifecycle, RegistryStreams.KeyOf(ids[0])), next.Stream);
        Assert.Equal(2, sink.Batches);
        Assert.False(_sent.Reader.TryRead(out _));
    }

    [Fact(Timeout = 30_000)]
    public async Task A_refused_batch_refuses_each_of_its_events_and_the_next_one_is_sent_all_the_same()
    {
        var ct = TestContext.Current.CancellationToken;
        var sink = Sink(RegistryEventSources.DeviceLifecycle);
        var ids = SameStream(4);

        var (first, held) = await PublishHeld(sink, ids[0], ct);
        var refused = new[] { sink.Publish(Event(ids[1])), sink.Publish(Event(ids[2])) };
        held.Taken.SetResult();
        var failing = await NextBatch(ct);
        var later = sink.Publish(Event(ids[3]));
        failing.Taken.SetException(new TimeoutException("queue storage did not answer"));
        (await NextBatch(ct)).Taken.SetResult();

        await first;
        foreach (var publish in refused)
        {
            await Assert.ThrowsAsync<TimeoutException>(() => publish);
        }
        await later;
    }

    [Fact(Timeout = 30_000)]
    public async Task A_batch_holds_at_most_MaxBatch_events_and_MaxBatchChars_of_them()
    {
        var ct = TestContext.Current.CancellationToken;
        var sink = Sink(RegistryEventSources.DeviceLifecycle);
        var ids = SameStream(StreamEventSink.MaxBatch + 9);
        var bulky = new string('x', StreamEventSink.MaxBatchChars / 3);

        var (first, held) = await PublishHeld(sink, ids[0], ct);
        var small = ids.Skip(1).Take(StreamEventSink.MaxBatch + 4).Select(id => sink.Publish(Event(id))).ToArray();
        var large = ids.Skip(StreamEventSink.MaxBatch + 5).Select(id => sink.Publish(Event(id) with { Body = bulky })).ToArray();
        held.Taken.SetResult();
        var sizes = new List<int>();
        while (sizes.Sum() < ids.Length - 1)
        {
            var batch = await NextBatch(ct);
            sizes.Add(batch.Events.Length);
            batch.Taken.SetResult();
        }
        await Task.WhenAll([first, .. small, .. large]);

        // 36 small ones: a full batch and 4 more, which share the next with the first two large ones (2 × a third of
        // the characters, plus the small ones', fit; a third would not); then the last two large ones.
        Assert.Equal([StreamEventSink.MaxBatch, 6, 2], sizes);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_stream_whose_batch_is_in_flight_holds_no_other_streams_events()
    {
        var ct = TestContext.Current.CancellationToken;
        var sink = Sink(RegistryEventSources.DeviceLifecycle);
        var (a, b) = TwoStreams();

        var held = sink.Publish(Event(a));
        var heldBatch = await NextBatch(ct);
        var other = sink.Publish(Event(b));
        var otherBatch = await NextBatch(ct);
        otherBatch.Taken.SetResult();
        await other;

        Assert.False(held.IsCompleted);
        Assert.Equal([b], otherBatch.Events.Select(e => e.DeviceId));
        heldBatch.Taken.SetResult();
        await held;
    }

    [Fact]
    public async Task An_event_of_an_unrouted_source_is_dropped_unsent()
    {
        var sink = Sink(RegistryEventSources.DeviceLifecycle);

        await sink.Publish(LifecycleNotificationTests.HeartbeatAlert("unrouted"));

        Assert.False(_sent.Reader.TryRead(out _));
        Assert.Equal(0, sink.Batches);
    }

    private static RegistryEvent Event(string deviceId) => LifecycleNotificationTests.HeartbeatAlert(deviceId) with
    {
        Source = RegistryEventSources.DeviceLifecycle,
        OpType = RegistryEventTypes.CreateDeviceIdentity,
    };

    /// <summary>Device ids whose events all take the same stream.</summary>
    private static string[] SameStream(int count)
    {
        var key = RegistryStreams.KeyOf("sink-0");
        return [.. Enumerable.Range(0, int.MaxValue).Select(i => $"sink-{i}").Where(id => RegistryStreams.KeyOf(id) == key).Take(count)];
    }

    private static (string A, string B) TwoStreams()
    {
        var a = "sink-0";
        return (a, Enumerable.Range(1, int.MaxValue).Select(i => $"sink-{i}").First(id => RegistryStreams.KeyOf(id) != RegistryStreams.KeyOf(a)));
    }
}
