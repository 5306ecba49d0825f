using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Registry.Abstractions;
using Registry.Grains.Devices;
using Registry.Host;

namespace Registry.Tests.Durability;

/// <summary>
/// The silo's slots for single storage requests (<see cref="StorageTimeBound.Request"/>): at most so many in flight; one
/// that waits for a slot past the storage timeout is answered 503 without ever being sent. On a fake clock.
/// </summary>
public sealed class StorageTimeBoundTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task A_request_that_finds_every_slot_taken_waits_and_is_sent_when_one_is_given_back()
    {
        var bound = new StorageTimeBound(Timeout, NullLogger<StorageTimeBound>.Instance, requestsInFlight: 2, new FakeTimeProvider());
        var answers = new[] { new TaskCompletionSource(), new TaskCompletionSource() };
        var sent = 0;
        var first = bound.Request(() => { sent++; return answers[0].Task; });
        var second = bound.Request(() => { sent++; return answers[1].Task; });
        var third = bound.Request(() => { sent++; return Task.CompletedTask; });

        Assert.Equal(2, sent);
        Assert.Equal(1, bound.RequestsWaiting);
        answers[0].SetResult();
        await first;
        await third;

        Assert.Equal(3, sent);
        Assert.Equal(0, bound.RequestsWaiting);
        Assert.False(second.IsCompleted);
        answers[1].SetResult();
        await second;
    }

    [Fact]
    public async Task A_request_that_waits_for_a_slot_past_the_timeout_answers_ServiceUnavailable_and_is_never_sent()
    {
        var time = new FakeTimeProvider();
        var bound = new StorageTimeBound(Timeout, NullLogger<StorageTimeBound>.Instance, requestsInFlight: 1, time);
        var hanging = new TaskCompletionSource();
        var first = bound.Request(() => hanging.Task);
        var thirdSent = false;
        time.Advance(TimeSpan.FromSeconds(1));
        var late = bound.Request(() => { thirdSent = true; return Task.CompletedTask; });

        time.Advance(Timeout);

        var refused = await Assert.ThrowsAsync<StorageUnavailableException>(() => late);
        Assert.Contains("nothing was sent", refused.Message);
        Assert.False(thirdSent);
        await Assert.ThrowsAsync<StorageUnavailableException>(() => first); // the hanging request, at its own timeout
        Assert.Equal(0, bound.RequestsWaiting);
    }

    [Fact]
    public async Task A_slot_given_back_by_a_failed_request_serves_the_next_one()
    {
        var bound = new StorageTimeBound(Timeout, NullLogger<StorageTimeBound>.Instance, requestsInFlight: 1, new FakeTimeProvider());
        var failing = new TaskCompletionSource();
        var first = bound.Request(() => failing.Task);
        var next = bound.Request(() => Task.CompletedTask);

        failing.SetException(new InvalidOperationException("refused"));

        await Assert.ThrowsAsync<InvalidOperationException>(() => first);
        await next;
    }

    [Fact]
    public async Task A_presence_read_takes_a_slot_and_one_that_waits_past_the_timeout_never_reaches_storage()
    {
        var time = new FakeTimeProvider();
        var bound = new StorageTimeBound(Timeout, NullLogger<StorageTimeBound>.Instance, requestsInFlight: 1, time);
        var inner = new HangingPresence();
        var store = new BoundedPresenceStore(inner, bound);

        var first = store.Read(0, "first");
        var second = store.Read(0, "second");
        time.Advance(Timeout);

        await Assert.ThrowsAsync<StorageUnavailableException>(() => second);
        await Assert.ThrowsAsync<StorageUnavailableException>(() => first);
        Assert.Equal(["first"], inner.Asked);
    }

    private sealed class HangingPresence : IPresenceStore
    {
        public List<string> Asked { get; } = [];

        public Task Write(int partition, IReadOnlyList<PresenceRecord> records) => new TaskCompletionSource().Task;

        public Task<PresenceRecord?> Read(int partition, string deviceId)
        {
            Asked.Add(deviceId);
            return new TaskCompletionSource<PresenceRecord?>().Task;
        }
    }
}
