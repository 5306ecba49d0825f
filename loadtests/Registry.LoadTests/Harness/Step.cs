namespace Registry.LoadTests.Harness;

/// <summary>
/// One operation a scenario measures. <see cref="Call"/> gets the call's sequence number (from 0, unique in the step)
/// and answers null on success or the kind of failure ("412", "DeviceNotFound"); an exception it throws counts as a
/// failure of its type's name. A ceiling step names the step it bounds in <see cref="CeilingOf"/>, and the report gives
/// the ratio of their completed rates.
/// </summary>
internal sealed record Step(string Name, Func<long, CancellationToken, ValueTask<string?>> Call)
{
    /// <summary>Items one call carries (heartbeats in a batch call): rates and count bounds are in items.</summary>
    public int ItemsPerCall { get; init; } = 1;

    /// <summary>The step this one is the ceiling of (a no-op call through the same client, server and scheduler).</summary>
    public string? CeilingOf { get; init; }

    /// <summary>Overrides the run's load model for this step (a connect storm keeps its own number of connects in flight).</summary>
    public LoadModel? Model { get; init; }

    /// <summary>Overrides the run's bounds for this step (a connect storm is bounded by its number of devices).</summary>
    public RunBounds? Bounds { get; init; }

    /// <summary>False for a step whose calls must each happen once (connects): it runs no warm-up.</summary>
    public bool WarmUp { get; init; } = true;

    /// <summary>
    /// Ends the measured part early, within its bounds, once the task it returns completes: a soak phase lasts until
    /// the alerts it waits for arrived, not a guessed duration. The token ends with the step.
    /// </summary>
    public Func<CancellationToken, Task>? Until { get; init; }

    /// <summary>Runs after the step, measured or not (disconnect the clients a connect step opened).</summary>
    public Func<CancellationToken, Task>? After { get; init; }

    /// <summary>What the report says this step does.</summary>
    public string? Description { get; init; }
}

/// <summary>
/// When a step ends: after <see cref="Duration"/> or once <see cref="Count"/> items were submitted, whichever comes
/// first; in-flight calls then get <see cref="Drain"/> to answer, and those that do not count as abandoned failures.
/// </summary>
internal sealed record RunBounds(TimeSpan Duration, long? Count, TimeSpan WarmUp, TimeSpan Drain)
{
    public static RunBounds Default { get; } = new(TimeSpan.FromSeconds(10), null, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(30));
}
