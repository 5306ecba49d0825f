using Registry.LoadTests.Harness;

namespace Registry.Tests.LoadTests;

/// <summary>
/// The open model's intended send times: latency counts from these, so they must follow the rate curve exactly,
/// whatever the sender or the target does.
/// </summary>
public sealed class OpenScheduleTests
{
    [Fact]
    public void A_constant_rate_spaces_intended_times_evenly()
    {
        var schedule = new OpenSchedule(LoadModel.Open(1000));

        Assert.Equal(0, schedule.IntendedSeconds(0));
        Assert.Equal(0.001, schedule.IntendedSeconds(1), 9);
        Assert.Equal(1.0, schedule.IntendedSeconds(1000), 9);
        Assert.Equal(60.0, schedule.IntendedSeconds(60_000), 9);
    }

    [Fact]
    public void A_ramp_sends_the_area_under_its_rate_and_then_holds_the_target_rate()
    {
        // 0 → 100/s over 10 s: n(t) = 5·t², so call 125 is due at 5 s and call 500 (the whole ramp) at 10 s.
        var schedule = new OpenSchedule(LoadModel.Parse("open:0..100/10s"));

        Assert.Equal(5.0, schedule.IntendedSeconds(125), 9);
        Assert.Equal(10.0, schedule.IntendedSeconds(500), 9);
        Assert.Equal(11.0, schedule.IntendedSeconds(600), 9);
    }

    [Fact]
    public void Intended_times_only_move_forward_through_a_ramp_up_or_down()
    {
        foreach (var model in new[] { "open:10..1000/5s", "open:1000..10/5s", "open:100..100/5s" })
        {
            var schedule = new OpenSchedule(LoadModel.Parse(model));
            var previous = -1.0;
            for (var n = 0; n < 10_000; n++)
            {
                var t = schedule.IntendedSeconds(n);
                Assert.True(t > previous, $"{model}: call {n} at {t} s is not after call {n - 1} at {previous} s");
                previous = t;
            }
        }
    }

    [Fact]
    public void A_batch_step_sends_calls_at_the_item_rate_divided_by_its_batch()
    {
        var schedule = new OpenSchedule(LoadModel.Open(1000), itemsPerCall: 100);

        Assert.Equal(0.1, schedule.IntendedSeconds(1), 9);
        Assert.Equal(1.0, schedule.IntendedSeconds(10), 9);
    }

    [Fact]
    public void A_closed_model_has_no_send_schedule() =>
        Assert.Throws<ArgumentException>(() => new OpenSchedule(LoadModel.Closed(10)));
}
