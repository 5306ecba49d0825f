using Orleans.Storage;
using Registry.Abstractions;
using Registry.Grains.Jobs;

namespace Registry.Tests.Jobs;

/// <summary>
/// Failures to inject into job storage, for the writes a test picks (the end of a job, a checkpoint): they answer as
/// storage that did not answer in time does. With <c>landThenThrow</c> the write lands first and the writer keeps its
/// old etag, as when a timed-out write landed after all: its next write meets a 412.
/// </summary>
public sealed class JobStorageFaults
{
    private readonly Lock _gate = new();
    private readonly List<(int Count, TaskCompletionSource Done)> _waiters = [];
    private Func<object?, bool> _when = _ => false;
    private int _remaining;
    private int _refused;

    public bool LandThenThrow { get; private set; }

    /// <summary>The next <paramref name="count"/> job-state writes matching <paramref name="when"/> fail.</summary>
    public void FailNext(int count, Func<JobState, bool> when, bool landThenThrow = false)
    {
        lock (_gate)
        {
            _remaining = count;
            _when = state => state is JobState job && when(job);
            LandThenThrow = landThenThrow;
        }
    }

    /// <summary>The next <paramref name="count"/> writes of the job list (the job registry's state) fail.</summary>
    public void FailNextListWrites(int count, bool landThenThrow = false)
    {
        lock (_gate)
        {
            _remaining = count;
            _when = state => state is JobListState;
            LandThenThrow = landThenThrow;
        }
    }

    public void Reset() => FailNext(0, _ => false);

    /// <summary>No failures to come and none counted: each test's cluster starts here, so its <see cref="Refused"/> counts its own.</summary>
    public void StartOver()
    {
        Reset();
        lock (_gate)
        {
            _refused = 0;
        }
    }

    /// <summary>Completes once <paramref name="count"/> writes were refused in all.</summary>
    public Task Refused(int count)
    {
        lock (_gate)
        {
            if (_refused >= count)
            {
                return Task.CompletedTask;
            }
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((count, done));
            return done.Task;
        }
    }

    internal bool TryTake(object? state)
    {
        lock (_gate)
        {
            if (_remaining == 0 || !_when(state))
            {
                return false;
            }
            _remaining--;
            _refused++;
            foreach (var waiter in _waiters.Where(w => w.Count <= _refused).ToArray())
            {
                _waiters.Remove(waiter);
                waiter.Done.TrySetResult();
            }
            return true;
        }
    }

    /// <summary>Whether a job state is ended (what its end write carries).</summary>
    public static bool Ended(JobState state) => state.Job?.Status.IsTerminal() == true;

    /// <summary>Whether a job state is a running job's (its start or a checkpoint).</summary>
    public static bool Running(JobState state) => state.Job?.Status == JobStatus.Running;
}

/// <summary>The job storage of a silo, through <see cref="JobStorageFaults"/>; it takes part in the silo's lifecycle as its inner storage does.</summary>
public sealed class FaultyJobStorage(IGrainStorage inner, JobStorageFaults faults) : IGrainStorage, ILifecycleParticipant<ISiloLifecycle>
{
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        inner.ReadStateAsync(stateName, grainId, grainState);

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (!faults.TryTake(grainState.State))
        {
            await inner.WriteStateAsync(stateName, grainId, grainState);
            return;
        }
        if (faults.LandThenThrow)
        {
            var etag = grainState.ETag;
            await inner.WriteStateAsync(stateName, grainId, grainState);
            grainState.ETag = etag;
        }
        throw new StorageUnavailableException("Storage did not answer within 5 s. Retry later.");
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        inner.ClearStateAsync(stateName, grainId, grainState);

    public void Participate(ISiloLifecycle lifecycle) => (inner as ILifecycleParticipant<ISiloLifecycle>)?.Participate(lifecycle);
}

/// <summary>
/// Failures to inject into reads of the registry's device storage, for the devices a test picks: they answer as storage
/// that did not answer in time does. Writes and other devices' reads pass.
/// </summary>
public sealed class DeviceReadFaults
{
    private readonly Lock _gate = new();
    private Func<string, bool> _when = _ => false;
    private int _remaining;

    /// <summary>The next <paramref name="count"/> reads of a device whose id matches <paramref name="when"/> fail.</summary>
    public void FailNext(int count, Func<string, bool> when)
    {
        lock (_gate)
        {
            _remaining = count;
            _when = when;
        }
    }

    public void StartOver() => FailNext(0, _ => false);

    internal bool TryTake(GrainId grainId)
    {
        lock (_gate)
        {
            if (_remaining == 0 || !_when(grainId.Key.ToString()!))
            {
                return false;
            }
            _remaining--;
            return true;
        }
    }
}

/// <summary>The registry's device storage of a silo, through <see cref="DeviceReadFaults"/>.</summary>
public sealed class FaultyDeviceStorage(IGrainStorage inner, DeviceReadFaults faults) : IGrainStorage, ILifecycleParticipant<ISiloLifecycle>
{
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        faults.TryTake(grainId)
            ? Task.FromException(new StorageUnavailableException("Storage did not answer within 5 s. Retry later."))
            : inner.ReadStateAsync(stateName, grainId, grainState);

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        inner.WriteStateAsync(stateName, grainId, grainState);

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        inner.ClearStateAsync(stateName, grainId, grainState);

    public void Participate(ISiloLifecycle lifecycle) => (inner as ILifecycleParticipant<ISiloLifecycle>)?.Participate(lifecycle);
}
