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

    private static TimeSpan RetryAfter(TokenBucket bucket)
    {
        using var lease = bucket.AttemptAcquire();
        Assert.False(lease.IsAcquired);
        Assert.True(lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter));
        return retryAfter;
    }
}
