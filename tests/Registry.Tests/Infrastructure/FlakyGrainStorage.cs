using Orleans.Storage;
using Registry.Abstractions;

namespace Registry.Tests.Infrastructure;

/// <summary>Failures to inject into one storage: the next N writes fail, either before or after they land.</summary>
public sealed class StorageFaults
{
    private readonly Lock _gate = new();
    private int _remaining;
    private bool _landThenThrow;

    /// <summary>The next <paramref name="count"/> writes or clears throw; with <paramref name="landThenThrow"/> they reach storage first.</summary>
    public void FailNext(int count, bool landThenThrow = false)
    {
        lock (_gate)
        {
            _remaining = count;
            _landThenThrow = landThenThrow;
        }
    }

    private int _readsToFail;
    private bool _readsTimeOut;

    /// <summary>
    /// The next <paramref name="count"/> reads throw without reaching storage (storage down); with <paramref name="timeOut"/>
    /// as the registry's storage time bound does when storage does not answer in time (<see cref="StorageUnavailableException"/>).
    /// </summary>
    public void FailNextReads(int count, bool timeOut = false)
    {
        lock (_gate)
        {
            _readsToFail = count;
            _readsTimeOut = timeOut;
        }
    }

    /// <summary>How many reads were asked of the storage (failed ones included).</summary>
    public int Reads => Volatile.Read(ref _reads);

    private int _reads;

    private readonly HashSet<string> _unreadable = new(StringComparer.Ordinal);

    /// <summary>
    /// Every read of the grain keyed <paramref name="key"/> times out (<see cref="StorageUnavailableException"/>) until
    /// <see cref="Reset"/>: storage away for that device only, so other test classes sharing these faults read on.
    /// </summary>
    public void FailReadsOf(string key)
    {
        lock (_gate)
        {
            _unreadable.Add(key);
        }
    }

    internal Exception? TryTakeRead(GrainId grainId)
    {
        Interlocked.Increment(ref _reads);
        lock (_gate)
        {
            if (_unreadable.Count > 0 && _unreadable.Contains(grainId.Key.ToString()))
            {
                return new StorageUnavailableException("Storage did not answer within 5 s. Retry later.");
            }
            if (_readsToFail == 0)
            {
                return null;
            }
            _readsToFail--;
            return _readsTimeOut ? new StorageUnavailableException("Storage did not answer within 5 s. Retry later.") : new InjectedStorageException();
        }
    }

    public void Reset()
    {
        FailNext(0);
        FailNextReads(0);
        lock (_gate)
        {
            _late = null;
            _lateNext = false;
            _holds.Clear();
            _unreadable.Clear();
        }
    }

    private bool _lateNext;
    private Func<Task>? _late;

    /// <summary>
    /// The next write or clear throws at once without landing, as a write whose answer timed out, and lands only when the
    /// test calls <see cref="LandLateWriteAsync"/>, with what it carried when it was sent.
    /// </summary>
    public void LandNextWriteLate()
    {
        lock (_gate)
        {
            _lateNext = true;
        }
    }

    public Task LandLateWriteAsync()
    {
        Func<Task>? late;
        lock (_gate)
        {
            late = _late;
            _late = null;
        }
        return late?.Invoke() ?? throw new InvalidOperationException("No write was held to land late.");
    }

    internal bool TryHoldLate(Func<Task> write)
    {
        lock (_gate)
        {
            if (!_lateNext)
            {
                return false;
            }
            _lateNext = false;
            _late = write;
            return true;
        }
    }

    /// <summary>
    /// Reads of the grain keyed <paramref name="key"/> that <see cref="FailReadsOf"/> made fail reach storage again (the other
    /// faults stay).
    /// </summary>
    public void ReadableAgain(string key)
    {
        lock (_gate)
        {
            _unreadable.Remove(key);
        }
    }

    /// <summary>Storage calls to hold, each taken by the first call of its key and kind; several keys can be held at once.</summary>
    private readonly List<(string Key, bool Read, StorageHold Hold)> _holds = [];

    /// <summary>
    /// The next write or clear of the grain keyed <paramref name="key"/> waits before it reaches storage until the test releases it:
    /// what another activation of the same device does meanwhile comes between this one's steps.
    /// </summary>
    public StorageHold HoldNextWriteOf(string key) => Hold(key, read: false);

    /// <summary>The next read of the grain keyed <paramref name="key"/> reads storage, then waits with what it read until the test releases it.</summary>
    public StorageHold HoldNextReadOf(string key) => Hold(key, read: true);

    private StorageHold Hold(string key, bool read)
    {
        var hold = new StorageHold();
        lock (_gate)
        {
            _holds.Add((key, read, hold));
        }
        return hold;
    }

    internal StorageHold? TryTakeHold(GrainId grainId, bool read)
    {
        lock (_gate)
        {
            var key = grainId.Key.ToString();
            var index = _holds.FindIndex(h => h.Read == read && h.Key == key);
            if (index < 0)
            {
                return null;
            }
            var hold = _holds[index].Hold;
            _holds.RemoveAt(index);
            return hold;
        }
    }

    internal bool TryTake(out bool landThenThrow)
    {
        lock (_gate)
        {
            landThenThrow = _landThenThrow;
            if (_remaining == 0)
            {
                return false;
            }
            _remaining--;
            return true;
        }
    }
}

/// <summary>A grain storage that fails on demand, for testing what the grains do when storage does.</summary>
public sealed class FlakyGrainStorage(IGrainStorage inner, StorageFaults faults, Orleans.Serialization.DeepCopier? copier = null) : IGrainStorage
{
    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (faults.TryTakeRead(grainId) is { } failure)
        {
            throw failure;
        }
        await inner.ReadStateAsync(stateName, grainId, grainState);
        if (faults.TryTakeHold(grainId, read: true) is { } hold)
        {
            await hold.Wait();
        }
    }

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (faults.TryTakeHold(grainId, read: false) is { } hold)
        {
            await hold.Wait();
        }
        if (copier is not null)
        {
            // A copy of what was sent: the grain goes on changing its own state object after the write "failed".
            var sent = new GrainState<T>(copier.Copy(grainState.State)) { ETag = grainState.ETag, RecordExists = grainState.RecordExists };
            if (faults.TryHoldLate(() => inner.WriteStateAsync(stateName, grainId, sent)))
            {
                throw new InjectedStorageException();
            }
        }
        await Maybe(() => inner.WriteStateAsync(stateName, grainId, grainState));
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (faults.TryTakeHold(grainId, read: false) is { } hold)
        {
            await hold.Wait();
        }
        if (copier is not null)
        {
            var sent = new GrainState<T>(copier.Copy(grainState.State)) { ETag = grainState.ETag, RecordExists = grainState.RecordExists };
            if (faults.TryHoldLate(() => inner.ClearStateAsync(stateName, grainId, sent)))
            {
                throw new InjectedStorageException();
            }
        }
        await Maybe(() => inner.ClearStateAsync(stateName, grainId, grainState));
    }

    private async Task Maybe(Func<Task> operation)
    {
        if (!faults.TryTake(out var landThenThrow))
        {
            await operation();
            return;
        }
        if (landThenThrow)
        {
            await operation();
        }
        throw new InjectedStorageException();
    }
}

/// <summary>A storage call held by <see cref="StorageFaults"/>: <see cref="Reached"/> when the call waits, on until <see cref="Release"/>.</summary>
public sealed class StorageHold
{
    private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task Reached => _reached.Task;

    public void Release() => _released.TrySetResult();

    internal Task Wait()
    {
        _reached.TrySetResult();
        return _released.Task;
    }
}

/// <summary>What an injected storage failure throws.</summary>
[GenerateSerializer, Alias("registry.tests.InjectedStorageException")]
public sealed class InjectedStorageException() : Exception("Injected storage failure");
