namespace Registry.Grains;

/// <summary>
/// Work a silo runs in the background from a stage of its start until it stops: <see cref="Run"/> starts off the
/// start's path once the stage is reached (nobody waits for it), and the stop cancels it, waits for it to end (bounded
/// by the stop's own token), then runs <see cref="Stopped"/>. The host disposes its services when it abandons a stop
/// that outlasted its timeout, and the silo's lifecycle may still call the stop after that: the source is cancelled, not
/// disposed (it holds no timer), so a stop after <see cref="Dispose"/> meets no disposed object.
/// </summary>
public abstract class SiloLoop(int stage) : ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private Task _running = Task.CompletedTask;
    private volatile bool _disposed;

    /// <summary>Whether the host has disposed this silo's services (a stop it abandoned): nothing they serve can be used.</summary>
    protected bool Disposed => _disposed;

    public void Participate(ISiloLifecycle lifecycle) => lifecycle.Subscribe(GetType().Name, stage, Start, Stop);

    /// <summary>The work, until <paramref name="stopping"/> is cancelled by the silo's stop.</summary>
    protected abstract Task Run(CancellationToken stopping);

    /// <summary>What the stop does once <see cref="Run"/> has ended.</summary>
    protected virtual Task Stopped(CancellationToken cancellationToken) => Task.CompletedTask;

    private Task Start(CancellationToken cancellationToken)
    {
        _running = Task.Run(() => Run(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task Stop(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await _running.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await Stopped(cancellationToken);
    }

    public void Dispose()
    {
        _disposed = true;
        _stopping.Cancel();
        GC.SuppressFinalize(this);
    }
}
