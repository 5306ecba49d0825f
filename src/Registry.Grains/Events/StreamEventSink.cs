using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Streams;
using Registry.Abstractions;

namespace Registry.Grains.Events;

/// <summary>
/// The sink once a route exists: each event goes onto the Orleans stream of its source (<see cref="RegistryStreams"/>),
/// where client apps and the gateway's server-sent events subscribe. Memory streams embedded, Azure Queue streams
/// durable: the host chooses the provider, this class only names it.
/// </summary>
public sealed class StreamEventSink(IServiceProvider services, IOptions<RegistryEventOptions> options) : IRegistryEventSink
{
    private readonly IReadOnlySet<string> _routed = options.Value.RoutedSources;

    // Resolved on first use: the provider is built with the silo, after the singletons that take this sink.
    private IStreamProvider? _provider;

    public bool IsRouted(string source) => _routed.Contains(source);

    /// <summary>An event of an unrouted source is dropped here too, so no caller can produce one by skipping <see cref="IsRouted"/>.</summary>
    public Task Publish(RegistryEvent registryEvent)
    {
        if (!IsRouted(registryEvent.Source))
        {
            return Task.CompletedTask;
        }
        _provider ??= services.GetRequiredKeyedService<IStreamProvider>(RegistryStreams.Provider);
        return _provider.GetStream<RegistryEvent>(StreamId.Create(registryEvent.Source, RegistryStreams.Key)).OnNextAsync(registryEvent);
    }
}
