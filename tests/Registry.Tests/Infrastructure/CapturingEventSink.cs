using System.Collections.Concurrent;
using Registry.Abstractions;
using Registry.Grains.Events;

namespace Registry.Tests.Infrastructure;

/// <summary>
/// An <see cref="IRegistryEventSink"/> that keeps what grains publish, for tests to read: heartbeat alerts are routed
/// unless <see cref="Routed"/> says otherwise, lifecycle events never (these tests are about alerts; lifecycle routing
/// has its own tests). In-process silos of a test cluster share one instance.
/// </summary>
public sealed class CapturingEventSink : IRegistryEventSink
{
    private readonly ConcurrentQueue<RegistryEvent> _events = new();
    private readonly ConcurrentDictionary<(string DeviceId, string OpType), TaskCompletionSource> _waiters = new();

    public volatile bool Routed = true;

    public bool IsRouted(string source) => Routed && source == RegistryEventSources.HeartbeatAlerts;

    public Task Publish(RegistryEvent registryEvent)
    {
        _events.Enqueue(registryEvent);
        Waiter(registryEvent.DeviceId, registryEvent.OpType).TrySetResult();
        return Task.CompletedTask;
    }

    /// <summary>Completes when an event of <paramref name="opType"/> for <paramref name="deviceId"/> has been published.</summary>
    public Task Published(string deviceId, string opType) => Waiter(deviceId, opType).Task;

    private TaskCompletionSource Waiter(string deviceId, string opType) =>
        _waiters.GetOrAdd((deviceId, opType), _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    /// <summary>What was published for <paramref name="deviceId"/>, in order.</summary>
    public IReadOnlyList<RegistryEvent> Of(string deviceId) => _events.Where(e => e.DeviceId == deviceId).ToArray();

    /// <summary>The opTypes published for <paramref name="deviceId"/>, in order.</summary>
    public IReadOnlyList<string> OpTypes(string deviceId) => Of(deviceId).Select(e => e.OpType).ToArray();
}
