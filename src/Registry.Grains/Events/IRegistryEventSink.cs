using Registry.Abstractions;

namespace Registry.Grains.Events;

/// <summary>
/// Where grains hand the notifications they raise (lifecycle events, heartbeat alerts). The sink decides by the routes
/// in configuration whether a source is delivered at all; a grain asks <see cref="IsRouted"/> first so an unrouted
/// source costs nothing.
/// </summary>
public interface IRegistryEventSink
{
    /// <summary>Whether a route for <paramref name="source"/> (<see cref="RegistryEventSources"/>) exists.</summary>
    bool IsRouted(string source);

    /// <summary>Delivers <paramref name="registryEvent"/> to every route of its source. Call only after the operation was acknowledged.</summary>
    Task Publish(RegistryEvent registryEvent);
}

/// <summary>The sink with no routes: nothing is produced (IoT Hub's default).</summary>
public sealed class UnroutedEventSink : IRegistryEventSink
{
    public bool IsRouted(string source) => false;

    public Task Publish(RegistryEvent registryEvent) => Task.CompletedTask;
}
