namespace Registry.Grains.Index;

/// <summary>
/// The silo's bound on index verification checks in flight (<see cref="DeviceIndexGrain"/>), across all its partitions.
/// A check activates a device and, in durable mode, reads its row: with a bound per partition only, 1,024 partitions
/// activating together after a restart started up to 16,384 checks, which took every storage slot and held the
/// partitions' own loads (and so the first statistics) past the request timeout. Requests never wait here: a device a
/// user asks for activates at once, so checks take what requests leave. Waiters are served oldest first.
/// </summary>
public sealed class IndexVerificationSlots(int limit) : IDisposable
{
    private readonly SemaphoreSlim _slots = new(limit, limit);
    private int _waiting;

    /// <summary>Checks that may be in flight at once on this silo.</summary>
    public int Limit { get; } = limit;

    /// <summary>Checks waiting for a slot now.</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    /// <summary>Runs <paramref name="check"/> once a slot is free, holding the slot until it ends.</summary>
    public async Task<T> Run<T>(Func<Task<T>> check)
    {
        Interlocked.Increment(ref _waiting);
        try
        {
            await _slots.WaitAsync();
        }
        finally
        {
            Interlocked.Decrement(ref _waiting);
        }
        try
        {
            return await check();
        }
        finally
        {
            _slots.Release();
        }
    }

    public void Dispose() => _slots.Dispose();
}
