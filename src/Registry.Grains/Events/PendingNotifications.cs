using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Registry.Abstractions;
using Registry.Abstractions.Diagnostics;

namespace Registry.Grains.Events;

/// <summary>
/// The lifecycle notifications of one silo that the event stream refused, published again until it takes them. A
/// loaded Azurite answered queue writes in 3–7 s, Orleans' queue adapter gave up after three 5 s timeouts, and each
/// such notification was lost (302 of a 2,150-line import with no failure of the registry, review 2026-12-06). Now a
/// refused one waits here and is sent again after a growing pause (<see cref="RegistryEventOptions.PublishRetryDelay"/>
/// doubling up to 30 s), for up to <see cref="RegistryEventOptions.PublishRetryWindow"/>; only then, or when more than
/// <see cref="RegistryEventOptions.PublishRetryCapacity"/> wait, or when the silo stops with some still waiting and no
/// outbox row of theirs stored (below), is one logged as lost (2200).
/// <para>
/// While any notification waits, a new one waits behind it without being tried: so a device's notifications keep their
/// order, and a write whose notification is routed is not held by the stream's own retries while the stream is away.
/// The queue is sent in order, one at a time, so a stream that is away is asked once per pause, not once per waiting
/// notification. A notification sent again carries its first attempt's <c>correlation-id</c>: a
/// publish that timed out may have landed, so a consumer can see one twice (at least once, as IoT Hub's routes deliver)
/// and tells them apart by it.
/// </para>
/// <para>
/// In durable mode each notification is also stored in the silo's <see cref="IEventOutbox"/>, beside its first publish
/// (so a write pays no extra wait when the stream takes it); its row goes once the stream took it. A publish the stream
/// refuses makes the write wait for that row instead, so once the write is answered its notification is in the stream's
/// queue or in the outbox: a silo killed or stopped with some still waiting leaves them there, and another silo sends
/// them once the cluster counts it dead (<c>OutboxSweeper</c>). Before 2026-12-07 what waited lived only in the silo's
/// memory, and a silo killed lost it.
/// </para>
/// </summary>
public sealed partial class PendingNotifications(
    IRegistryEventSink sink,
    IOptions<RegistryEventOptions> options,
    [FromKeyedServices(RegistryClock.Key)] TimeProvider clock,
    ILogger<PendingNotifications> logger,
    IEventOutbox? outbox = null) : IDisposable
{
    private readonly IEventOutbox _outbox = outbox ?? new NoEventOutbox();

    private static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(30);

    private readonly Lock _gate = new();
    private readonly Queue<Pending> _queue = NewQueue();

    /// <summary>The queue, and <c>registry.events.waiting</c> recorded at 0 so an exporter shows it before anything waits.</summary>
    private static Queue<Pending> NewQueue()
    {
        RegistryMetrics.EventsWaiting.Add(0);
        return new();
    }
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
    /// Starts storing <paramref name="registryEvent"/> as the intent row of a write not yet sent (<see cref="OutboxChecks.Intent"/>):
    /// the write waits for <see cref="Intent.Stored"/> before it goes, so a silo that dies once the write landed leaves the
    /// row for a sweep. Then exactly one of <see cref="Landed"/>, <see cref="MayLand"/> or <see cref="NotLanded"/>.
    /// </summary>
    public Intent Intend(RegistryEvent registryEvent, string check) => new(registryEvent, check, Store(registryEvent, OutboxChecks.Intent(check)));

    /// <summary>
    /// The intended write landed: its event is published, and its intent row goes once the stream took it. An event that
    /// has to wait is stored again as a plain row (an intent row is checked against what storage holds when swept, and
    /// a device created and since deleted would fail its create's check), the call is answered once that row is stored,
    /// as <see cref="Publish(RegistryEvent)"/>'s is, and the intent row goes then.
    /// </summary>
    public Task Landed(Intent intent) => Send(intent.Event, beside: null, intent: intent.Row);

    /// <summary>
    /// The intended write's call failed without learning whether it landed (it still may): its event becomes a row to
    /// verify (<see cref="StoreUnverified"/>), which a sweep sends once storage shows the write landed, and the intent row goes.
    /// </summary>
    public async Task MayLand(Intent intent)
    {
        await StoreUnverified(intent.Event, intent.Check);
        RemoveWhenStored(intent.Row);
    }

    /// <summary>The intended write did not land (refused, or never sent): its intent row goes.</summary>
    public void NotLanded(Intent intent) => RemoveWhenStored(intent.Row);

    /// <summary>
    /// Publishes <paramref name="registryEvent"/> now, or queues it behind those waiting; a publish the sink refuses is
    /// queued. Completes when the first attempt has ended: the caller's write was acknowledged either way.
    /// </summary>
    public Task Publish(RegistryEvent registryEvent) =>
        // Stored beside the first attempt, not before it: when the stream takes the event, the write waits for nothing more.
        Send(registryEvent, beside: Store(registryEvent), intent: null);

    /// <summary>
    /// Publishes now, or queues behind those waiting. The event's row is <paramref name="beside"/> (stored beside the first
    /// attempt) or, for a write stored with an <paramref name="intent"/> row, stored only if the event has to wait.
    /// </summary>
    private async Task Send(RegistryEvent registryEvent, Stored? beside, Stored? intent)
    {
        Stored stored = default;
        bool waits;
        lock (_gate)
        {
            // While any notification waits, the stream is refusing (or was just now): this one waits behind it at once
            // instead of spending the stream's own retries first, which held every routed write ~15 s while queue storage
            // was away (three 5 s tries, review 2026-12-06). The sending loop finds out when the stream takes them again.
            waits = _queue.Count > 0;
            if (waits)
            {
                stored = beside ?? Store(registryEvent);
                Enqueue(registryEvent, stored, firstFailure: clock.GetUtcNow());
            }
        }
        if (!waits)
        {
            try
            {
                await sink.Publish(registryEvent);
                RemoveWhenStored(beside ?? intent!.Value);
                return;
            }
            catch (Exception e)
            {
                LogWaiting(logger, e, registryEvent.OpType, registryEvent.DeviceId);
                stored = beside ?? Store(registryEvent);
                lock (_gate)
                {
                    Enqueue(registryEvent, stored, firstFailure: clock.GetUtcNow());
                }
            }
        }
        // Answered only once the waiting notification is in storage (or storage refused it too, logged). Once stored, its
        // intent row is not needed (one whose plain row storage refused stays, swept and verified once its silo is gone).
        if (await stored.Outcome && intent is { } row)
        {
            RemoveWhenStored(row);
        }
    }

    /// <summary>
    /// The notification of a write whose outcome its call did not learn (a storage timeout; it may land later): stored
    /// as a row to verify, which a sweep sends only once storage shows the write landed (<see cref="OutboxChecks"/>).
    /// Without an outbox (the embedded registry) nothing is kept. Completes once the row is stored or refused (logged).
    /// </summary>
    public Task StoreUnverified(RegistryEvent registryEvent, string check) => Store(registryEvent, check).Outcome;

    /// <summary>
    /// The event's row in the outbox; its task never faults (true once stored): a row storage refused or did not
    /// acknowledge in time is logged (2203), and the event waits in memory.
    /// </summary>
    private Stored Store(RegistryEvent registryEvent, string? check = null)
    {
        OutboxWrite write;
        try
        {
            write = _outbox.Add(registryEvent, check);
        }
        catch (Exception e)
        {
            LogNotStored(logger, e, registryEvent.OpType, registryEvent.DeviceId);
            return new Stored(null, Task.FromResult(false));
        }
        if (write.Entry is null)
        {
            // No outbox (the embedded registry): nothing stored, nothing to wait for.
            return new Stored(null, False);
        }
        if (write.Stored.IsCompletedSuccessfully)
        {
            return new Stored(write.Entry, True);
        }
        return new Stored(write.Entry, Outcome(write.Stored, registryEvent));

        async Task<bool> Outcome(Task stored, RegistryEvent e)
        {
            try
            {
                // Off the grain's scheduler: the row may land after the grain's turn, and only the outbox (thread-safe) is touched then.
                await stored.ConfigureAwait(false);
                return true;
            }
            catch (Exception ex)
            {
                LogNotStored(logger, ex, e.OpType, e.DeviceId);
                return false;
            }
        }
    }

    private static readonly Task<bool> True = Task.FromResult(true);
    private static readonly Task<bool> False = Task.FromResult(false);

    /// <summary>
    /// Removes the row once its store ended, whatever its outcome: a store that timed out may have landed all the same
    /// (a review saw 8 such rows sent again as duplicates after a restart, 2026-12-07), and removing a row that is not
    /// there is no failure.
    /// </summary>
    private void RemoveWhenStored(Stored stored)
    {
        if (stored.Entry is not { } entry)
        {
            return;
        }
        if (stored.Outcome.IsCompleted)
        {
            _outbox.Remove(entry);
            return;
        }
        _ = stored.Outcome.ContinueWith(static (_, state) =>
        {
            var (outbox, entry) = ((IEventOutbox, OutboxEntry))state!;
            outbox.Remove(entry);
        }, (_outbox, entry), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>A row's entry (null without an outbox) and whether storage acknowledged it (never faults).</summary>
    internal readonly record struct Stored(OutboxEntry? Entry, Task<bool> Outcome);

    /// <summary>A write's event and its intent row (<see cref="Intend"/>).</summary>
    public sealed class Intent
    {
        internal Intent(RegistryEvent registryEvent, string check, Stored row) => (Event, Check, Row) = (registryEvent, check, row);

        internal RegistryEvent Event { get; }

        internal string Check { get; }

        internal Stored Row { get; }

        /// <summary>Completes once storage acknowledged the row (true), refused it or did not answer in time (false, logged 2203), or at once without an outbox; never faults.</summary>
        public Task<bool> Stored => Row.Outcome;
    }

    private void Enqueue(RegistryEvent registryEvent, Stored stored, DateTimeOffset firstFailure)
    {
        if (_stopped.IsCancellationRequested)
        {
            _ = ReportStopped([new Pending(registryEvent, stored, firstFailure)]);
            return;
        }
        if (_queue.Count >= options.Value.PublishRetryCapacity)
        {
            LogLost(logger, registryEvent.OpType, registryEvent.DeviceId, $"{_queue.Count} notifications already wait to be sent again");
            RemoveWhenStored(stored);
            return;
        }
        _queue.Enqueue(new Pending(registryEvent, stored, firstFailure));
        RegistryMetrics.EventsWaiting.Add(1);
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
                RemoveWhenStored(head.Stored);
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
                RemoveWhenStored(head.Stored);
            }
            lock (_gate)
            {
                _queue.Dequeue();
                RegistryMetrics.EventsWaiting.Add(-1);
            }
        }
    }

    /// <summary>
    /// The silo stops: what still waits stays in the outbox for another silo to send once this one is gone (2204), or, the
    /// rows storage refused and in the embedded registry, is lost, each logged (2200).
    /// </summary>
    public void Dispose()
    {
        Pending[] waiting;
        lock (_gate)
        {
            _stopped.Cancel();
            waiting = [.. _queue];
            _queue.Clear();
            RegistryMetrics.EventsWaiting.Add(-waiting.Length);
        }
        if (waiting.Length > 0)
        {
            _ = ReportStopped(waiting);
        }
        // The source is not disposed: the sending loop may still be reading its token, and it holds no timer.
    }

    /// <summary>
    /// The notifications still waiting at the stop: those whose rows landed stay in the outbox, said in one line (a
    /// review's stop with 3,000 waiting logged 3,000, 2026-12-07); each of the others is lost, or, if its row landed after
    /// all, sent by another silo.
    /// </summary>
    private async Task ReportStopped(Pending[] waiting)
    {
        var left = 0;
        foreach (var pending in waiting)
        {
            if (await pending.Stored.Outcome.ConfigureAwait(false))
            {
                left++;
            }
            else
            {
                LogLost(logger, pending.Event.OpType, pending.Event.DeviceId, "the silo stopped before the event stream took it");
            }
        }
        if (left > 0)
        {
            LogLeft(logger, left);
        }
    }

    private readonly record struct Pending(RegistryEvent Event, Stored Stored, DateTimeOffset FirstFailure);

    [LoggerMessage(EventId = 2201, Level = LogLevel.Warning, Message = "The {OpType} notification of device {DeviceId} was refused by the event stream; it waits to be sent again")]
    private static partial void LogWaiting(ILogger logger, Exception exception, string opType, string deviceId);

    [LoggerMessage(EventId = 2202, Level = LogLevel.Debug, Message = "The {OpType} notification of device {DeviceId} was refused again; it goes on waiting")]
    private static partial void LogStillWaiting(ILogger logger, Exception exception, string opType, string deviceId);

    [LoggerMessage(EventId = 2200, Level = LogLevel.Error, Message = "The {OpType} notification of device {DeviceId} could not be published and is lost ({Reason}), unless an attempt that timed out landed after all; the operation itself was acknowledged")]
    private static partial void LogLost(ILogger logger, string opType, string deviceId, string reason);

    [LoggerMessage(EventId = 2203, Level = LogLevel.Warning, Message = "The {OpType} notification of device {DeviceId} could not be stored in the outbox (storage refused it or did not answer in time); it waits in this silo's memory, and its row, if it landed after all, is removed once the stream takes the event")]
    private static partial void LogNotStored(ILogger logger, Exception exception, string opType, string deviceId);

    [LoggerMessage(EventId = 2204, Level = LogLevel.Warning, Message = "{Count} notifications the event stream had not taken when the silo stopped stay in the outbox; another silo sends them once this one is gone")]
    private static partial void LogLeft(ILogger logger, int count);
}
