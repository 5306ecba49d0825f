using Orleans.Storage;

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

    public void Reset() => FailNext(0);

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
public sealed class FlakyGrainStorage(IGrainStorage inner, StorageFaults faults) : IGrainStorage
{
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        inner.ReadStateAsync(stateName, grainId, grainState);

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        Maybe(() => inner.WriteStateAsync(stateName, grainId, grainState));

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        Maybe(() => inner.ClearStateAsync(stateName, grainId, grainState));

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

/// <summary>What an injected storage failure throws.</summary>
[GenerateSerializer, Alias("registry.tests.InjectedStorageException")]
public sealed class InjectedStorageException() : Exception("Injected storage failure");
