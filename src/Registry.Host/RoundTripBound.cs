namespace Registry.Host;

/// <summary>
/// Bounds each round trip of a storage operation of several requests (a partition's load: its claim, then each page of
/// its range query): the operation as a whole may take as long as its pages need, but storage that stops answering ends
/// it within the bound (<see cref="RegistrySettings.LoadRoundTripTimeout"/>: the SDK's tries, each within
/// <c>Registry:StorageTimeoutSeconds</c>) with a <see cref="RoundTripTimeoutException"/>, which <see cref="StorageTimeBound"/>
/// answers 503. Without it only the SDK's own limits applied (a network timeout per try, two
/// retries), and a device request right after a restart, whose partition had to load from storage that hung, waited out
/// the silo's 30 s response timeout (hostile review, 2026-12-04), where one on a warm host answered in 5 s.
/// </summary>
public sealed class RoundTripBound : IDisposable
{
    private readonly TimeSpan? _timeout;
    private readonly CancellationTokenSource _answer;

    /// <summary>A bound of <paramref name="timeout"/> per round trip (none when null), timed on <paramref name="time"/>.</summary>
    public RoundTripBound(TimeSpan? timeout, TimeProvider? time = null)
    {
        _timeout = timeout;
        _answer = timeout is { } t ? new CancellationTokenSource(t, time ?? TimeProvider.System) : new CancellationTokenSource();
    }

    /// <summary>Cancels the round trip in flight once it has waited the timeout.</summary>
    public CancellationToken Token => _answer.Token;

    /// <summary>A round trip was answered: the next one has the whole timeout.</summary>
    public void Answered()
    {
        if (_timeout is { } t)
        {
            _answer.CancelAfter(t);
        }
    }

    /// <summary>Whether <paramref name="e"/> is this bound's cancellation.</summary>
    public bool Ended(Exception e) => e is OperationCanceledException && _answer.IsCancellationRequested;

    /// <summary>What the operation throws when a round trip waited the timeout.</summary>
    public RoundTripTimeoutException Expired(string what, Exception cause) => new(what, _timeout ?? TimeSpan.Zero, cause);

    public void Dispose() => _answer.Dispose();
}

/// <summary>A round trip of a storage operation waited its bound (<see cref="RoundTripBound"/>) for <see cref="What"/>.</summary>
public sealed class RoundTripTimeoutException(string what, TimeSpan waited, Exception cause)
    : TimeoutException($"Storage did not answer {what} within {waited.TotalSeconds:0.#} s.", cause)
{
    public string What => what;

    public TimeSpan Waited => waited;
}
