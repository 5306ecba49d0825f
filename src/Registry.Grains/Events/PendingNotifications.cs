using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Registry.Abstractions;

namespace Registry.Grains.Events;

/// <summary>
/// The lifecycle notifications of one silo that the event stream refused, published again until it takes them. A
/// loaded Azurite answered queue writes in 3–7 s, Orleans' queue adapter gave up after three 5 s timeouts, and each
/// such notification was lost (302 of a 2,150-line import with no failure of the registry, review 2026-12-06). Now a
/// refused one waits here and is sent again after a growing pause (<see cref="RegistryEventOptions.PublishRetryDelay"/>
/// doubling up to 30 s), for up to <see cref="RegistryEventOptions.PublishRetryWindow"/>; only then, or when more than
/// <see cref="RegistryEventOptions.PublishRetryCapacity"/> wait, or when the silo stops with some still waiting, is one
/// logged as lost (2200).
/// <para>
/// While any notification waits, a new one waits behind it without being tried: so a device's notifications keep their
/// order, and a write whose notification is routed is not held by the stream's own retries while the stream is away.
/// The queue is sent in order, one at a time, so a stream that is away is asked once per pause, not once per waiting
/// notification. A notification sent again carries its first attempt's <c>correlation-id</c>: a
/// publish that timed out may have landed, so a consumer can see one twice (at least once, as IoT Hub's routes deliver)
/// and tells them apart by it. What waits lives in the silo's memory: a silo killed loses it.
/// </para>
/// </summary>
public sealed partial class PendingNotifications(
    IRegistryEventSink sink,
    IOptions<RegistryEventOptions> options,
    [FromKeyedServices(RegistryClock.Key)] TimeProvider clock,
    ILogger<PendingNotifications> logger) : IDisposable
{
    private static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(30);

    private readonly Lock _gate = new();
    private readonly Queue<Pending> _queue = new();
    private readonly CancellationTokenSource _stopped = new();
    private Task? _sending;

    /// <summary>How many notifications wait to be sent again.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _queue.Count;
            }
        }
    }

    /// <summary>
    /// Publishes <paramref name="registryEvent"/> now, or queues it behind those waiting; a publish the sink refuses is
    /// queued. Completes when the first attempt has ended: the caller's write was acknowledged either way.
    /// </summary>
    public async Task Publish(RegistryEvent registryEvent)
    {
        lock (_gate)
        {
            // While any notification waits, the stream is refusing (or was just now): this one waits behind it at once
            // instead of spending the stream's own retries first, which held every routed write ~15 s while queue storage
            // was away (three 5 s tries, review 2026-12-06). The sending loop finds out when the stream takes them again.
            if (_queue.Count > 0)
            {
                Enqueue(registryEvent, firstFailure: clock.GetUtcNow());
                return;
            }
        }
        try
        {
            await sink.Publish(registryEvent);
        }
        catch (Exception e)
        {
            LogWaiting(logger, e, registryEvent.OpType, registryEvent.DeviceId);
            lock (_gate)
            {
                Enqueue(registryEvent, firstFailure: clock.GetUtcNow());
            }
        }
    }

    private void Enqueue(RegistryEvent registryEvent, DateTimeOffset firstFailure)
    {
        if (_stopped.IsCancellationRequested || _queue.Count >= options.Value.PublishRetryCapacity)
        {
            LogLost(logger, registryEvent.OpType, registryEvent.DeviceId,
                _stopped.IsCancellationRequested ? "the silo is stopping" : $"{_queue.Count} notifications already wait to be sent again");
            return;
        }
        _queue.Enqueue(new Pending(registryEvent, firstFailure));
        // Off the grain that raised it: the retries outlive its turn.
        _sending ??= Task.Run(SendWaiting);
    }

    private async Task SendWaiting()
    {
        // The head has just been refused: the first attempt again waits a pause.
        var delay = options.Value.PublishRetryDelay;
        while (true)
        {
            Pending head;
            lock (_gate)
            {
                if (_queue.Count == 0 || _stopped.IsCancellationRequested)
                {
                    _sending = null;
                    return;
                }
                head = _queue.Peek();
            }
            if (delay > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(delay, clock, _stopped.Token);
                }
                catch (OperationCanceledException)
                {
                    continue;
                }
            }
            try
            {
                await sink.Publish(head.Event);
                // The stream takes notifications again: the next goes at once.
                delay = TimeSpan.Zero;
            }
            catch (Exception e)
            {
                if (clock.GetUtcNow() - head.FirstFailure < options.Value.PublishRetryWindow)
                {
                    LogStillWaiting(logger, e, head.Event.OpType, head.Event.DeviceId);
                    delay = delay <= TimeSpan.Zero ? options.Value.PublishRetryDelay : delay * 2 < MaxDelay ? delay * 2 : MaxDelay;
                    continue;
                }
                LogLost(logger, head.Event.OpType, head.Event.DeviceId, $"the event stream refused it for {options.Value.PublishRetryWindow}: {e.Message}");
            }
            lock (_gate)
            {
                _queue.Dequeue();
            }
        }
    }

    /// <summary>The silo stops: what still waits is lost, each logged (2200).</summary>
    public void Dispose()
    {
        Pending[] lost;
        lock (_gate)
        {
            _stopped.Cancel();
            lost = [.. _queue];
            _queue.Clear();
        }
        foreach (var pending in lost)
        {
            LogLost(logger, pending.Event.OpType, pending.Event.DeviceId, "the silo stopped before the event stream took it");
        }
        // The source is not disposed: the sending loop may still be reading its token, and it holds no timer.
    }

    private readonly record struct Pending(RegistryEvent Event, DateTimeOffset FirstFailure);

    [LoggerMessage(EventId = 2201, Level = LogLevel.Warning, Message = "The {OpType} notification of device {DeviceId} was refused by the event stream; it waits to be sent again")]
    private static partial void LogWaiting(ILogger logger, Exception exception, string opType, string deviceId);

    [LoggerMessage(EventId = 2202, Level = LogLevel.Debug, Message = "The {OpType} notification of device {DeviceId} was refused again; it goes on waiting")]
    private static partial void LogStillWaiting(ILogger logger, Exception exception, string opType, string deviceId);

    [LoggerMessage(EventId = 2200, Level = LogLevel.Error, Message = "The {OpType} notification of device {DeviceId} could not be published and is lost ({Reason}); the operation itself was acknowledged")]
    private static partial void LogLost(ILogger logger, string opType, string deviceId, string reason);
}
