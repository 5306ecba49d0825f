using System.Threading.RateLimiting;
using Microsoft.Extensions.Time.Testing;
using Registry.Gateway.Throttling;

namespace Registry.Tests.Throttling;

/// <summary>The limiter behind every throttle, on a clock the tests move by hand.</summary>
public class TokenBucketTests
{
    private readonly FakeTimeProvider _clock = new();

    [Fact]
    public void Idle_bucket_admits_one_window_of_operations_at_once_then_refuses()
    {
        var bucket = new TokenBucket(ThrottleRate.PerMinute(3), _clock);

        Assert.Equal([true, true, true, false], Enumerable.Range(0, 4).Select(_ => Acquire(bucket)));
    }

    [Fact]
    public void Refusal_says_how_long_until_the_next_operation_is_earned()
    {
        var bucket = Drained(ThrottleRate.PerMinute(100));

        Assert.Equal(TimeSpan.FromMilliseconds(600), RetryAfter(bucket));
        _clock.Advance(TimeSpan.FromMilliseconds(200));
        Assert.Equal(TimeSpan.FromMilliseconds(400), RetryAfter(bucket));
    }

    [Fact]
    public void Operations_are_earned_back_at_the_rate()
    {
        var bucket = Drained(ThrottleRate.PerMinute(100));

        _clock.Advance(TimeSpan.FromMilliseconds(600));
        Assert.True(Acquire(bucket));
        Assert.False(Acquire(bucket));

        _clock.Advance(TimeSpan.FromMilliseconds(1200));
        Assert.True(Acquire(bucket));
        Assert.True(Acquire(bucket));
        Assert.False(Acquire(bucket));
    }

    [Fact]
    public void Rates_that_do_not_divide_the_window_are_exact_to_the_tick()
    {
        var bucket = Drained(ThrottleRate.PerMinute(7));
        var interval = TimeSpan.FromTicks((TimeSpan.FromMinutes(1).Ticks + 6) / 7); // 60 s / 7, rounded up to a tick

        Assert.Equal(interval, RetryAfter(bucket));
        _clock.Advance(interval - TimeSpan.FromTicks(1));
        Assert.False(Acquire(bucket));
        _clock.Advance(TimeSpan.FromTicks(1));
        Assert.True(Acquire(bucket));
    }

    [Fact]
    public void Refused_attempts_cost_nothing()
    {
        var bucket = Drained(ThrottleRate.PerMinute(100));
        for (var i = 0; i < 50; i++)
        {
            Assert.False(Acquire(bucket));
        }

        _clock.Advance(TimeSpan.FromMilliseconds(600));
        Assert.True(Acquire(bucket));
    }

    [Fact]
    public void A_long_idle_period_never_banks_more_than_one_window()
    {
        var bucket = Drained(ThrottleRate.PerMinute(3));

        _clock.Advance(TimeSpan.FromDays(3));
        Assert.Equal([true, true, true, false], Enumerable.Range(0, 4).Select(_ => Acquire(bucket)));
    }

    [Fact]
    public void Idle_duration_counts_from_the_moment_the_bucket_is_full_again()
    {
        var bucket = new TokenBucket(ThrottleRate.PerSecond(10), _clock);
        Assert.Equal(TimeSpan.Zero, bucket.IdleDuration);

        Assert.True(Acquire(bucket));
        Assert.Null(bucket.IdleDuration);
        _clock.Advance(TimeSpan.FromMilliseconds(150));
        Assert.Equal(TimeSpan.FromMilliseconds(50), bucket.IdleDuration);
    }

    [Fact]
    public void Statistics_count_admitted_and_refused_operations()
    {
        var bucket = new TokenBucket(ThrottleRate.PerMinute(2), _clock);
        for (var i = 0; i < 5; i++)
        {
            Acquire(bucket);
        }

        var statistics = bucket.GetStatistics()!;
        Assert.Equal((0L, 2L, 3L), (statistics.CurrentAvailablePermits, statistics.TotalSuccessfulLeases, statistics.TotalFailedLeases));
    }

    /// <summary>A bucket in debt (a batch larger than its window) has no permit available, not a negative count.</summary>
    [Fact]
    public void Statistics_of_a_bucket_in_debt_show_no_permit_available_until_the_debt_is_earned_back()
    {
        var bucket = new TokenBucket(ThrottleRate.PerMinute(3), _clock);
        using (var batch = bucket.AttemptAcquire(5))
        {
            Assert.True(batch.IsAcquired);
        }

        Assert.Equal(0L, bucket.GetStatistics()!.CurrentAvailablePermits); // 3 - 5 = -2 operations of credit
        _clock.Advance(TimeSpan.FromSeconds(60));
        Assert.Equal(1L, bucket.GetStatistics()!.CurrentAvailablePermits);
    }

    /// <summary>
    /// More than a window at once (an HTTPS batch beyond the DeviceToCloudSends rate) waits for a full bucket, then is
    /// admitted and leaves a debt that what follows waits out (hostile review, 2026-12-05: such a batch was refused for
    /// ever with a Retry-After that could not succeed).
    /// </summary>
    [Fact]
    public void More_than_a_window_at_once_is_admitted_from_a_full_bucket_and_leaves_a_debt_that_is_waited_out()
    {
        var bucket = new TokenBucket(ThrottleRate.PerMinute(3), _clock);
        Assert.True(Acquire(bucket));

        Assert.Equal(TimeSpan.FromSeconds(20), RetryAfter(bucket, 5)); // until full again
        _clock.Advance(TimeSpan.FromSeconds(20));
        using (var batch = bucket.AttemptAcquire(5))
        {
            Assert.True(batch.IsAcquired);
        }

        // 3 - 5 = -2 operations: the next one is earned 3 operations' time (60 s) later.
        Assert.Equal(TimeSpan.FromSeconds(60), RetryAfter(bucket));
        _clock.Advance(TimeSpan.FromSeconds(60) - TimeSpan.FromTicks(1));
        Assert.False(Acquire(bucket));
        _clock.Advance(TimeSpan.FromTicks(1));
        Assert.True(Acquire(bucket));
        Assert.False(Acquire(bucket));
    }

    /// <summary>
    /// Hostile review, 2026-12-07: one device's batch of 21,800 empty messages left S1's 100/s budget 218 s in debt, every
    /// device's sends refused meanwhile. The debt is one window at most.
    /// </summary>
    [Fact]
    public void A_batch_far_beyond_the_window_leaves_at_most_one_window_of_debt()
    {
        var bucket = new TokenBucket(ThrottleRate.PerMinute(3), _clock);
        using (var batch = bucket.AttemptAcquire(30))
        {
            Assert.True(batch.IsAcquired);
        }

        // 3 - 6 = -3 operations (not 3 - 30): the next one is earned 4 operations' time (80 s) later.
        Assert.Equal(TimeSpan.FromSeconds(80), RetryAfter(bucket));
    }

    [Fact]
    public void A_debt_is_earned_back_in_full_after_a_long_idle_period_and_no_more()
    {
        var bucket = new TokenBucket(ThrottleRate.PerMinute(3), _clock);
        using (var batch = bucket.AttemptAcquire(30))
        {
            Assert.True(batch.IsAcquired);
        }

        _clock.Advance(TimeSpan.FromDays(3));
        Assert.Equal([true, true, true, false], Enumerable.Range(0, 4).Select(_ => Acquire(bucket)));
    }

    private TokenBucket Drained(ThrottleRate rate)
    {
        var bucket = new TokenBucket(rate, _clock);
        for (var i = 0; i < rate.Count; i++)
        {
            Assert.True(Acquire(bucket));
        }
        return bucket;
    }

    private static bool Acquire(TokenBucket bucket)
    {
        using var lease = bucket.AttemptAcquire();
        return lease.IsAcquired;
    }

    private static TimeSpan RetryAfter(TokenBucket bucket, int permits = 1)
    {
        using var lease = bucket.AttemptAcquire(permits);
        Assert.False(lease.IsAcquired);
        Assert.True(lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter));
        return retryAfter;
    }
}
