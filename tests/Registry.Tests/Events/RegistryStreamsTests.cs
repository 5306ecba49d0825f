using Orleans.Streams;
using Registry.Abstractions;
using Registry.Client;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Events;

/// <summary>
/// How a source's events are spread over streams, and the streams over the durable mode's Azure queues. With one stream
/// per source every lifecycle event went through one of the four queues and its one pulling agent, which a routed
/// durable registry on Azurite outran within seconds (README Known limits, measured 2026-12-07).
/// </summary>
public sealed class RegistryStreamsTests
{
    [Theory]
    [MemberData(nameof(EventStreamClient.Sources), MemberType = typeof(EventStreamClient))]
    public void Each_sources_streams_map_onto_every_event_queue_of_a_durable_registry(string source)
    {
        // The mapper Orleans' Azure Queue streams build from the queue names (AzureQueueAdapterFactory).
        var queueNames = RegistryClusterNames.EventQueueNames("registry");
        var mapper = new HashRingBasedPartitionedStreamQueueMapper(queueNames, RegistryStreams.Provider);

        var perQueue = RegistryStreams.Keys
            .GroupBy(key => mapper.QueueToPartition(mapper.GetQueueForStream(StreamId.Create(source, key))))
            .ToDictionary(g => g.Key, g => g.Count());

        Assert.Equal(queueNames.Order(StringComparer.Ordinal), perQueue.Keys.Order(StringComparer.Ordinal));
        Assert.All(perQueue.Values, streams => Assert.InRange(streams, 2, RegistryStreams.StreamsPerSource / 2));
    }

    [Fact]
    public void A_devices_events_always_take_the_same_one_of_the_sources_streams_and_devices_use_all_of_them()
    {
        var ids = Enumerable.Range(0, 1000).Select(i => $"device-{i}").ToArray();

        Assert.Equal(ids.Select(RegistryStreams.KeyOf), ids.Select(id => RegistryStreams.KeyOf(new string(id.AsSpan()))));
        Assert.Equal(RegistryStreams.Keys.Order(), ids.Select(RegistryStreams.KeyOf).Distinct().Order());
        // Stream 0 is the key of the registry's single stream before the events were spread.
        Assert.Equal(Guid.Empty, RegistryStreams.Keys[0]);
        Assert.Equal(RegistryStreams.StreamsPerSource, RegistryStreams.Keys.Distinct().Count());
    }
}
