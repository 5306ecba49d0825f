using System.Collections.Concurrent;
using Registry.Abstractions;

namespace Registry.Tests.Presence;

/// <summary>
/// An edge's <see cref="IDeviceSessionObserver"/> as a test sees it: each session's close is a task that completes when
/// the device grain's one-way <see cref="Close"/> arrives, so tests wait on the real signal, never on a sleep.
/// </summary>
internal sealed class SessionObserver : IDeviceSessionObserver
{
    private readonly ConcurrentDictionary<Guid, TaskCompletionSource<(string DeviceId, SessionCloseReason Reason)>> _closes = new();

    /// <summary>Completes with the device and reason of the first Close of <paramref name="sessionId"/>.</summary>
    public Task<(string DeviceId, SessionCloseReason Reason)> Closed(Guid sessionId) =>
        For(sessionId).Task.WaitAsync(TimeSpan.FromSeconds(30)); // a failure guard, not a timing assertion

    public bool WasClosed(Guid sessionId) => _closes.TryGetValue(sessionId, out var close) && close.Task.IsCompleted;

    public Task Close(string deviceId, Guid sessionId, SessionCloseReason reason)
    {
        For(sessionId).TrySetResult((deviceId, reason));
        return Task.CompletedTask;
    }

    private TaskCompletionSource<(string, SessionCloseReason)> For(Guid sessionId) =>
        _closes.GetOrAdd(sessionId, _ => new(TaskCreationOptions.RunContinuationsAsynchronously));
}
