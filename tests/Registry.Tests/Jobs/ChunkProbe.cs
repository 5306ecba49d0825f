using System.Collections.Concurrent;
using Registry.Abstractions;
using Registry.Grains.Jobs;

namespace Registry.Tests.Jobs;

/// <summary>
/// Shared by the in-process silos of a test cluster: records on which silo each chunk of a job ran (an import chunk by
/// its byte offset, an export chunk by its partition) and holds the first attempt of one chosen chunk until released,
/// so a test can stop a job mid-way deterministically and wait on real signals instead of time. The first attempt of
/// <c>failKey</c> fails as storage that did not answer in time does (with <c>failAlways</c>, every attempt fails as refused access does); chunks stopped by a cancel are recorded.
/// </summary>
public sealed class ChunkProbe(long holdKey = -1, long failKey = -1, bool failAlways = false, IReadOnlyCollection<long>? alsoHold = null)
{
    private readonly ConcurrentQueue<(SiloAddress Silo, long Key)> _stopped = new();
    private int _failing;

    /// <summary>Chunks a worker stopped because their job was cancelled or their silo began to stop.</summary>
    public IReadOnlyCollection<(SiloAddress Silo, long Key)> Stopped => _stopped;

    /// <summary>How many times the chunk <c>failKey</c> failed.</summary>
    public int Failed => _failing;

    internal void Stop(SiloAddress silo, long key) => _stopped.Enqueue((silo, key));

    private readonly TaskCompletionSource<SiloAddress> _held = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Dictionary<long, (TaskCompletionSource<SiloAddress> Held, TaskCompletionSource Release)> _alsoHeld =
        (alsoHold ?? []).ToDictionary(k => k, _ => (new TaskCompletionSource<SiloAddress>(TaskCreationOptions.RunContinuationsAsynchronously), new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)));
    private readonly ConcurrentQueue<(SiloAddress Silo, long Key)> _finished = new();
    private readonly List<(Func<IReadOnlyCollection<(SiloAddress Silo, long Key)>, bool> Condition, TaskCompletionSource Done)> _waiters = [];
    private int _holding;

    /// <summary>The silo where the held chunk waits, once it does.</summary>
    public Task<SiloAddress> Held => _held.Task;

    /// <summary>Chunks that finished (applied or staged), with the silo they ran on, in the order they finished.</summary>
    public IReadOnlyCollection<(SiloAddress Silo, long Key)> Finished => _finished;

    /// <summary>Releases every held chunk.</summary>
    public void Release()
    {
        _release.TrySetResult();
        foreach (var (_, release) in _alsoHeld.Values)
        {
            release.TrySetResult();
        }
    }

    /// <summary>The silo where the first attempt of chunk <paramref name="key"/> (one of <c>alsoHold</c>) waits, once it does.</summary>
    public Task<SiloAddress> HeldOn(long key) => _alsoHeld[key].Held.Task;

    /// <summary>Releases the held chunk <paramref name="key"/> (one of <c>alsoHold</c>).</summary>
    public void Release(long key) => _alsoHeld[key].Release.TrySetResult();

    /// <summary>Completes once <paramref name="condition"/> holds over <see cref="Finished"/>.</summary>
    public Task WhenFinished(Func<IReadOnlyCollection<(SiloAddress Silo, long Key)>, bool> condition)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_waiters)
        {
            if (condition(_finished))
            {
                return Task.CompletedTask;
            }
            _waiters.Add((condition, done));
        }
        return done.Task;
    }

    internal Task Enter(SiloAddress silo, long key)
    {
        if (key == failKey && failAlways)
        {
            Interlocked.Increment(ref _failing);
            return Task.FromException(new JobStorageException("Could not stage a block: access was refused (HTTP 403 AuthorizationFailure)."));
        }
        if (key == failKey && Interlocked.CompareExchange(ref _failing, 1, 0) == 0)
        {
            return Task.FromException(new StorageUnavailableException("Storage did not answer within 5 s. Retry later."));
        }
        // Only the first attempt is held: the resumed job passes through.
        if (key == holdKey && Interlocked.CompareExchange(ref _holding, 1, 0) == 0)
        {
            _held.TrySetResult(silo);
            return _release.Task;
        }
        if (_alsoHeld.TryGetValue(key, out var hold) && hold.Held.TrySetResult(silo))
        {
            return hold.Release.Task;
        }
        return Task.CompletedTask;
    }

    internal void Finish(SiloAddress silo, long key)
    {
        _finished.Enqueue((silo, key));
        lock (_waiters)
        {
            foreach (var waiter in _waiters.Where(w => w.Condition(_finished)).ToArray())
            {
                _waiters.Remove(waiter);
                waiter.Done.TrySetResult();
            }
        }
    }
}

/// <summary>
/// One silo's gate in front of the job workers, reporting to the cluster's <see cref="ChunkProbe"/> with that silo's
/// address. A chunk held on a silo that stops is ended by the worker itself, as a chunk busy with its lines is: its
/// silo's stop cancels its token (<see cref="JobStops"/>).
/// </summary>
public sealed class SiloChunkGate(ChunkProbe probe, SiloAddress silo) : IImportChunkGate, IExportPartitionGate
{
    Task IImportChunkGate.Enter(ImportChunk chunk) => probe.Enter(silo, chunk.Offset);

    void IImportChunkGate.Applied(ImportChunk chunk) => probe.Finish(silo, chunk.Offset);

    public void Stopped(ImportChunk chunk) => probe.Stop(silo, chunk.Offset);

    Task IExportPartitionGate.Enter(ExportChunk chunk) => probe.Enter(silo, chunk.Partition);

    void IExportPartitionGate.Staged(ExportChunk chunk) => probe.Finish(silo, chunk.Partition);

    void IExportPartitionGate.Stopped(ExportChunk chunk) => probe.Stop(silo, chunk.Partition);
}
