using Microsoft.Extensions.Time.Testing;
using Registry.Host;

namespace Registry.Tests.Durability;

/// <summary>
/// A group-committing store's request slots follow storage's answers: a slow answer halves them (once per episode of
/// slowness), each round of prompt answers adds one back, between 1 and the configured number. The clock is a
/// <see cref="FakeTimeProvider"/>: "slow" is time the test advances, not time it waits.
/// </summary>
public sealed class AdaptiveSlotsTests
{
    private static readonly TimeSpan Slow = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task While_every_slot_is_in_use_a_request_waits_for_one_given_back()
    {
        var slots = new AdaptiveSlots(2, Slow, "test", time: new FakeTimeProvider());
        var a = await slots.WaitAsync();
        await slots.WaitAsync();
        var third = slots.WaitAsync().AsTask();
        Assert.False(third.IsCompleted);

        slots.Release(a);

        await third.WaitAsync(TestContext.Current.CancellationToken);
        Assert.Equal(2, slots.Limit);
    }

    [Fact]
    public async Task Slow_answers_of_requests_sent_together_halve_the_slots_once_and_fewer_are_then_handed_out()
    {
        var time = new FakeTimeProvider();
        var slots = new AdaptiveSlots(8, Slow, "test", time: time);
        var started = new List<long>();
        for (var i = 0; i < 8; i++)
        {
            started.Add(await slots.WaitAsync());
        }
        var waiting = Enumerable.Range(0, 4).Select(_ => slots.WaitAsync().AsTask()).ToArray();

        time.Advance(Slow + TimeSpan.FromSeconds(1));
        Assert.True(slots.Release(started[0]));
        Assert.Equal(4, slots.Limit);
        foreach (var s in started.Skip(1).Take(3))
        {
            Assert.False(slots.Release(s)); // sent before the cut: the same episode
        }
        Assert.Equal(4, slots.Limit);
        // 4 requests still out, 4 slots: the waiting ones get none yet.
        Assert.All(waiting, w => Assert.False(w.IsCompleted));

        slots.Release(started[4]);
        await Task.WhenAny(waiting).WaitAsync(TestContext.Current.CancellationToken);
        Assert.Equal(1, waiting.Count(w => w.IsCompleted));
    }

    [Fact]
    public async Task A_request_sent_after_a_cut_that_is_slow_too_cuts_again_down_to_one_slot_and_no_further()
    {
        var time = new FakeTimeProvider();
        var slots = new AdaptiveSlots(4, Slow, "test", time: time);
        for (var expected = 2; expected >= 1; expected /= 2)
        {
            var sent = await slots.WaitAsync();
            time.Advance(Slow);
            Assert.True(slots.Release(sent));
            Assert.Equal(expected, slots.Limit);
            if (expected == 1)
            {
                break;
            }
        }
        var last = await slots.WaitAsync();
        time.Advance(Slow * 3);
        Assert.False(slots.Release(last));
        Assert.Equal(1, slots.Limit);
    }

    [Fact]
    public async Task Each_round_of_prompt_answers_adds_one_slot_back_up_to_the_configured_number()
    {
        var time = new FakeTimeProvider();
        var slots = new AdaptiveSlots(4, Slow, "test", time: time);
        var first = await slots.WaitAsync();
        time.Advance(Slow);
        slots.Release(first);
        Assert.Equal(2, slots.Limit);

        var limits = new List<int>();
        for (var i = 0; i < 12; i++)
        {
            var sent = await slots.WaitAsync();
            time.Advance(TimeSpan.FromMilliseconds(100));
            slots.Release(sent);
            limits.Add(slots.Limit);
        }

        // 2 prompt answers make 3 slots, 3 more make 4, and 4 is the most.
        Assert.Equal([2, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4], limits);
    }
}
