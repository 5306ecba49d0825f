namespace Registry.Gateway.Throttling;

/// <summary>
/// The hub's operation budgets (docs/wire-contract.md §11), shared by every endpoint of this gateway: the REST surface takes from
/// it per request (<see cref="ThrottlingFilter"/>), through the throttle each endpoint names.
/// Acquire before doing the work, so a refused operation changes nothing.
/// </summary>
public interface IThrottle
{
    /// <summary>Whether throttles are enforced; when not, every acquisition succeeds.</summary>
    bool IsEnabled { get; }

    /// <summary>The rate each throttle enforces (the tier's, or its override).</summary>
    IReadOnlyDictionary<OperationClass, ThrottleRate> Rates { get; }

    /// <summary>Takes one <paramref name="operation"/> from the hub's budget, or says how long until it would be admitted.</summary>
    ThrottleDecision TryAcquire(OperationClass operation);

    /// <summary>
    /// Takes <paramref name="count"/> operations at once (a batch of device messages spends one each), all or none. A
    /// count beyond the throttle's whole window is taken once the budget is full, and leaves it in debt (one window at
    /// most): what follows waits until the debt is earned back.
    /// </summary>
    ThrottleDecision TryAcquire(OperationClass operation, int count);
}

/// <summary>The answer to one <see cref="IThrottle.TryAcquire(OperationClass)"/>: admitted, or refused with how long to wait.</summary>
public readonly record struct ThrottleDecision(bool IsAcquired, TimeSpan RetryAfter)
{
    public static ThrottleDecision Acquired { get; } = new(true, TimeSpan.Zero);

    /// <summary>The <c>Retry-After</c> header value: whole seconds, rounded up, at least 1.</summary>
    public int RetryAfterSeconds => (int)Math.Clamp(Math.Ceiling(RetryAfter.TotalSeconds), 1, int.MaxValue);
}
