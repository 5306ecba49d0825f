namespace Registry.Tests.Throttling;

/// <summary>A clock that moves only when a test says so, so limiter tests need no sleeps and no timing luck.</summary>
internal sealed class ManualClock : TimeProvider
{
    private long _ticks;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => _ticks;

    public void Advance(TimeSpan by) => _ticks += by.Ticks;
}
