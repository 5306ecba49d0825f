using Orleans.Streams;
using Registry.Abstractions;

namespace Registry.Client;

/// <summary>
/// A client app's subscription to one source's registry events: one Orleans subscription on each of the source's
/// streams (<see cref="RegistryStreams"/>). The handler is called for several streams at once: it must be safe to call
/// concurrently. A device's events come through one stream, in order.
/// </summary>
public sealed class RegistryEventSubscription
{
    private readonly (IAsyncStream<RegistryEvent> Stream, StreamSubscriptionHandle<RegistryEvent> Handle)[] _subscriptions;
    private readonly Func<RegistryEvent, Task> _onEvent;

    private RegistryEventSubscription((IAsyncStream<RegistryEvent>, StreamSubscriptionHandle<RegistryEvent>)[] subscriptions, Func<RegistryEvent, Task> onEvent) =>
        (_subscriptions, _onEvent) = (subscriptions, onEvent);

    /// <summary>The source's streams, in the order of <see cref="RegistryStreams.Keys"/>.</summary>
    public IReadOnlyList<IAsyncStream<RegistryEvent>> Streams => [.. _subscriptions.Select(s => s.Stream)];

    /// <summary>
    /// The streams of <paramref name="source"/> (<see cref="RegistryEventSources"/>, in any case: a route's
    /// <c>DeviceLifecycleEvents</c> and the events' <c>deviceLifecycleEvents</c> are one source) in
    /// <paramref name="client"/>'s registry stream provider.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="source"/> names no event source.</exception>
    /// <exception cref="InvalidOperationException">The client was started without <see cref="RegistryClientOptions.Events"/>.</exception>
    public static IReadOnlyList<IAsyncStream<RegistryEvent>> StreamsOf(IClusterClient client, string source)
    {
        ArgumentNullException.ThrowIfNull(client);
        if (!RegistryEventSources.TryNormalize(source, out var name))
        {
            // Matched exactly, a source spelled as routes spell it subscribed to a stream nothing is sent on, and said
            // nothing (hostile review, 2026-12-07).
            throw new ArgumentException($"'{source}' is not a registry event source; the sources are {string.Join(", ", RegistryEventSources.All)} (in any case).", nameof(source));
        }
        IStreamProvider provider;
        try
        {
            provider = client.GetStreamProvider(RegistryStreams.Provider);
        }
        catch (KeyNotFoundException e)
        {
            throw new InvalidOperationException("This client joins no registry event stream: start it with RegistryClientOptions.Events " +
                "set (Registry:Events=true), against silos that route the source (Registry:Routes).", e);
        }
        return [.. RegistryStreams.Keys.Select(key => provider.GetStream<RegistryEvent>(StreamId.Create(name, key)))];
    }

    /// <summary>
    /// Subscribes <paramref name="onEvent"/> to every stream of <paramref name="source"/>. Either all subscriptions are
    /// made or none is kept: when one fails, those made are undone and the failure is thrown.
    /// </summary>
    public static async Task<RegistryEventSubscription> SubscribeAsync(IClusterClient client, string source, Func<RegistryEvent, Task> onEvent)
    {
        ArgumentNullException.ThrowIfNull(onEvent);
        var streams = StreamsOf(client, source);
        var attempts = streams.Select(stream => stream.SubscribeAsync((e, _) => onEvent(e))).ToArray();
        try
        {
            await Task.WhenAll(attempts);
        }
        catch (Exception e)
        {
            await Task.WhenAll(attempts.Where(a => a.IsCompletedSuccessfully).Select(a => Unsubscribe(a.Result)));
            if (e is InvalidOperationException && e.Message.Contains("PubSubRendezvousGrain", StringComparison.Ordinal))
            {
                // The silos keep no stream subscriptions: they were started without any route (Orleans says only that
                // it could not create its rendezvous grain).
                throw new InvalidOperationException($"The cluster serves no registry event stream for '{source}': its silos route no " +
                    "event source (Registry:Routes), so they keep no stream subscriptions.", e);
            }
            throw;
        }
        return new([.. streams.Zip(attempts, (stream, attempt) => (stream, attempt.Result))], onEvent);
    }

    /// <summary>
    /// Whether the cluster still holds every one of these subscriptions. Orleans drops a client's subscription to a
    /// stream when a delivery finds the client unreachable (its gateway silo restarted or died), and tells the client
    /// nothing; it can drop some of the 16 and keep the others, so events of some devices stop while others still come.
    /// </summary>
    public async Task<bool> StillSubscribedAsync() => (await Task.WhenAll(_subscriptions.Select(Held))).All(held => held);

    /// <summary>
    /// Subscribes again, with the same handler, to each stream whose subscription the cluster no longer holds; returns
    /// how many. What those streams carried while dropped is not delivered again. Not to be called concurrently with itself.
    /// </summary>
    public async Task<int> RestoreAsync()
    {
        var restored = 0;
        for (var i = 0; i < _subscriptions.Length; i++)
        {
            if (await Held(_subscriptions[i]))
            {
                continue;
            }
            var stream = _subscriptions[i].Stream;
            _subscriptions[i] = (stream, await stream.SubscribeAsync((e, _) => _onEvent(e)));
            restored++;
        }
        return restored;
    }

    private static async Task<bool> Held((IAsyncStream<RegistryEvent> Stream, StreamSubscriptionHandle<RegistryEvent> Handle) subscription) =>
        (await subscription.Stream.GetAllSubscriptionHandles()).Any(h => h.HandleId == subscription.Handle.HandleId);

    /// <summary>Ends every subscription (each is tried; the first failure is thrown after all were tried).</summary>
    public Task UnsubscribeAsync() => Task.WhenAll(_subscriptions.Select(s => s.Handle.UnsubscribeAsync()));

    private static async Task Unsubscribe(StreamSubscriptionHandle<RegistryEvent> handle)
    {
        try
        {
            await handle.UnsubscribeAsync();
        }
        catch (Exception e) when (e is TimeoutException or OrleansException)
        {
            // Undoing after a failed subscribe: the cluster drops a subscription whose client is gone in the end.
        }
    }
}
