using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Registry.Abstractions;
using Registry.Grains.Events;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Events;

/// <summary>
/// What a silo does with the lifecycle notifications the event stream refuses (<see cref="PendingNotifications"/>), on a
/// clock the test moves: each is sent again, after growing pauses, in its device's order, until the stream takes it or
/// its window ends.
/// </summary>
public sealed class PendingNotificationsTests
{
    /// <summary>
    /// Everything after a refusal waits behind it untried: before, each new notification first spent the stream's own
    /// retries (three 5 s tries on Azure queues), so every routed write took ~15 s while queue storage was away (review
    /// 2026-12-06).
    /// </summary>
    [Fact(Timeout = 30_000)]
    public async Task A_refused_notification_is_sent_again_once_the_stream_takes_it_and_those_after_it_wait_behind_it_untried()
    {
        var ct = TestContext.Current.CancellationToken;
        var clock = new SignallingClock();
        var sink = new RecordingSink { Down = true };
        using var pending = new PendingNotifications(sink, Options(), clock, NullLogger<PendingNotifications>.Instance);

        await pending.Publish(Event(RegistryEventTypes.CreateDeviceIdentity, "a"));
        await pending.Publish(Event(RegistryEventTypes.DeleteDeviceIdentity, "a"));
        await pending.Publish(Event(RegistryEventTypes.CreateDeviceIdentity, "b"));

        // The delete of a and the create of b waited behind the create of a instead of being tried.
        Assert.Equal(["create a"], sink.Attempts);
        Assert.Equal(3, pending.Count);
        await clock.TimerCreated.WaitAsync(ct);
        sink.Down = false;
        clock.Advance(TimeSpan.FromSeconds(1));

        await sink.Delivered(3).WaitAsync(ct);
        Assert.Equal(["create a", "delete a", "create b"], sink.Sent);
        Assert.Equal(0, pending.Count);
    }

    /// <summary>
    /// The backlog is a metric (<c>registry.events.waiting</c>): a review saw 5,887 notifications wait in one silo under
    /// load, delivered up to 16 minutes late, with nothing to show it (2026-12-07).
    /// </summary>
    [Fact(Timeout = 30_000)]
    public async Task Refused_notifications_count_as_waiting_until_the_stream_takes_them()
    {
        var ct = TestContext.Current.CancellationToken;
        using var waiting = new OwnMeasurements("registry.events.waiting");
        var clock = new SignallingClock();
        var sink = new RecordingSink { Down = true };
        using var pending = new PendingNotifications(sink, Options(), clock, NullLogger<PendingNotifications>.Instance);

        await pending.Publish(Event(RegistryEventTypes.CreateDeviceIdentity, "a"));
        await pending.Publish(Event(RegistryEventTypes.CreateDeviceIdentity, "b"));

        Assert.Equal(2, waiting.Sum);
        await clock.TimerCreated.WaitAsync(ct);
        sink.Down = false;
        clock.Advance(TimeSpan.FromSeconds(1));
        await sink.Delivered(2).WaitAsync(ct);
        while (pending.Count > 0)
        {
            // The sender counts each one out as it leaves the queue, just after the sink took it.
            await Task.Yield();
        }
        Assert.Equal(0, waiting.Sum);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_notification_refused_for_its_whole_window_is_logged_lost_and_one_beyond_the_capacity_at_once()
    {
        var ct = TestContext.Current.CancellationToken;
        var clock = new SignallingClock();
        var sink = new RecordingSink { Down = true };
        var logs = new CapturedLogs();
        using var pending = new PendingNotifications(sink, Options(capacity: 1), clock, new Logger(logs.CreateLogger(typeof(PendingNotifications).FullName!)));

        await pending.Publish(Event(RegistryEventTypes.CreateDeviceIdentity, "a"));
        await pending.Publish(Event(RegistryEventTypes.CreateDeviceIdentity, "b"));
        Assert.Single(Lost(logs), line => line.Contains("device b", StringComparison.Ordinal));

        // Pauses of 1, 2, 4 and 8 s: the attempt after the 8 s pause comes 15 s after the first refusal, past the 10 s window.
        foreach (var pause in new[] { 1, 2, 4, 8 })
        {
            await clock.TimerCreated.WaitAsync(ct);
            clock.Advance(TimeSpan.FromSeconds(pause));
        }
        while (pending.Count > 0)
        {
            await Task.Delay(10, ct);
        }

        Assert.Equal(["create a", "create a", "create a", "create a", "create a"], sink.Attempts);
        Assert.Equal(2, Lost(logs).Length);
        Assert.Contains(Lost(logs), line => line.Contains("device a", StringComparison.Ordinal) && line.Contains("refused it for", StringComparison.Ordinal));
        sink.Down = false;
        await pending.Publish(Event(RegistryEventTypes.DeleteDeviceIdentity, "a"));
        Assert.Equal(["delete a"], sink.Sent);
    }

    private static string[] Lost(CapturedLogs logs) =>
        logs.Lines.Where(l => l.Level == LogLevel.Error && l.Text.Contains("is lost", StringComparison.Ordinal)).Select(l => l.Text).ToArray();

    private static IOptions<RegistryEventOptions> Options(int capacity = 100) => Microsoft.Extensions.Options.Options.Create(new RegistryEventOptions
    {
        PublishRetryDelay = TimeSpan.FromSeconds(1),
        PublishRetryWindow = TimeSpan.FromSeconds(10),
        PublishRetryCapacity = capacity,
    });

    private static RegistryEvent Event(string opType, string deviceId) =>
        LifecycleNotifications.Build("hub", opType, deviceId, DateTime.UtcNow, DateTime.UtcNow);

    private sealed class Logger(ILogger inner) : ILogger<PendingNotifications>
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            inner.Log(logLevel, eventId, state, exception, formatter);
    }

    /// <summary>A fake clock that says when a pause starts, so the test moves time only once the pause is waiting for it.</summary>
    private sealed class SignallingClock : FakeTimeProvider
    {
        private readonly SemaphoreSlim _created = new(0);

        public Task TimerCreated => _created.WaitAsync();

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var timer = base.CreateTimer(callback, state, dueTime, period);
            _created.Release();
            return timer;
        }
    }

    private sealed class RecordingSink : IRegistryEventSink
    {
        private readonly Lock _gate = new();
        private readonly List<string> _attempts = [];
        private readonly List<string> _sent = [];
        private readonly List<(int Count, TaskCompletionSource Done)> _waits = [];

        public volatile bool Down;

        public string[] Attempts
        {
            get
            {
                lock (_gate)
                {
                    return [.. _attempts];
                }
            }
        }

        public string[] Sent
        {
            get
            {
                lock (_gate)
                {
                    return [.. _sent];
                }
            }
        }

        public Task Delivered(int count)
        {
            lock (_gate)
            {
                var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                if (_sent.Count >= count)
                {
                    done.SetResult();
                }
                else
                {
                    _waits.Add((count, done));
                }
                return done.Task;
            }
        }

        public bool IsRouted(string source) => true;

        public Task Publish(RegistryEvent registryEvent)
        {
            var name = $"{(registryEvent.OpType == RegistryEventTypes.CreateDeviceIdentity ? "create" : "delete")} {registryEvent.DeviceId}";
            lock (_gate)
            {
                _attempts.Add(name);
                if (Down)
                {
                    return Task.FromException(new InvalidOperationException("The event stream is down."));
                }
                _sent.Add(name);
                foreach (var wait in _waits.Where(w => _sent.Count >= w.Count).ToList())
                {
                    wait.Done.SetResult();
                    _waits.Remove(wait);
                }
                return Task.CompletedTask;
            }
        }
    }
}
