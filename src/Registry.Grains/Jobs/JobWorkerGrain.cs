using Microsoft.Extensions.Hosting;
using Orleans.Concurrency;
using Orleans.Placement;
using Orleans.Runtime.Placement;

namespace Registry.Grains.Jobs;

/// <summary>
/// A job's door to one silo: keyed by the silo's address and placed on it, it hands each chunk to that silo's own
/// <see cref="IBulkJobGrain"/> workers. A stateless worker runs on its caller's silo, so without this door every chunk
/// of a job would run where its job grain runs.
/// </summary>
[Alias("registry.IJobWorkerGrain")]
public interface IJobWorkerGrain : IGrainWithStringKey
{
    // As long as the worker it forwards to: the door must not give up on a slow chunk before the worker does.
    [Alias("ExportPartition")]
    [ResponseTimeout(IBulkJobGrain.ChunkTimeout)]
    Task<ExportChunkResult> ExportPartition(ExportChunk chunk);

    [Alias("ExportGroup")]
    [ResponseTimeout(IBulkJobGrain.ChunkTimeout)]
    Task<ExportGroupResult> ExportGroup(ExportGroup group);

    [Alias("ImportChunk")]
    [ResponseTimeout(IBulkJobGrain.ChunkTimeout)]
    Task<ImportChunkResult> ImportChunk(ImportChunk chunk);

    /// <summary>Stops this silo's chunks of the job: each stops before its next line (or exported device).</summary>
    [Alias("Stop")]
    Task Stop(string jobId);
}

/// <summary>Forwards to the local workers; reentrant, so the chunks sent to one silo run at once, as many as its workers.</summary>
[Reentrant, OnNamedSilo]
public sealed class JobWorkerGrain(JobStops stops) : Grain, IJobWorkerGrain
{
    private IBulkJobGrain Local => GrainFactory.GetGrain<IBulkJobGrain>(0);

    public Task<ExportChunkResult> ExportPartition(ExportChunk chunk) => Local.ExportPartition(chunk);

    public Task<ExportGroupResult> ExportGroup(ExportGroup group) => Local.ExportGroup(group);

    public Task<ImportChunkResult> ImportChunk(ImportChunk chunk) => Local.ImportChunk(chunk);

    public Task Stop(string jobId)
    {
        stops.Stop(jobId);
        return Task.CompletedTask;
    }
}

/// <summary>
/// The jobs stopped on this silo, which its workers check between lines: a cancelled job's chunks stop promptly
/// instead of applying the rest of their lines. A stop is forgotten once given: the chunks running then stop, and a job
/// whose cancel could not be stored (so resumes) runs its later chunks under a new token. (A chunk that takes its token
/// after the stop runs to its end; the job's cancel waits for it all the same.)
/// A silo that begins to stop (SIGTERM, a graceful stop) stops every job's chunks on it the same way: each ends before
/// its next line and answers <see cref="JobWorkerStoppingException"/>, and the job sends it to another silo (or, on the
/// last silo, resumes it after the restart). Before, the chunks of a stopping silo went on calling device grains that
/// the silo no longer placed: thousands of Orleans error lines with stacks in a 4.6 s stop (hostile review, 2026-12-06).
/// </summary>
public sealed class JobStops(IHostApplicationLifetime lifetime)
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, CancellationTokenSource> _jobs = new(StringComparer.Ordinal);

    /// <summary>Whether this silo has begun to stop: every token <see cref="For"/> gives is then cancelled.</summary>
    public bool SiloStopping => lifetime.ApplicationStopping.IsCancellationRequested;

    public CancellationToken For(string jobId) =>
        _jobs.GetOrAdd(jobId, _ => CancellationTokenSource.CreateLinkedTokenSource(lifetime.ApplicationStopping)).Token;

    public void Stop(string jobId)
    {
        if (_jobs.TryRemove(jobId, out var stop))
        {
            stop.Cancel();
        }
    }

    private readonly Lock _gate = new();
    private int _running;
    private TaskCompletionSource? _idle;

    /// <summary>How many job loops and chunks run on this silo now.</summary>
    public int Running
    {
        get
        {
            lock (_gate)
            {
                return _running;
            }
        }
    }

    /// <summary>
    /// Counts a job loop or chunk as running on this silo until disposed: a stopping silo waits for them to end before
    /// it leaves the cluster (<see cref="JobDrain"/>).
    /// </summary>
    public IDisposable Run()
    {
        lock (_gate)
        {
            _running++;
        }
        return new Ended(this);
    }

    /// <summary>Completes once no job loop nor chunk runs on this silo.</summary>
    public Task Idle
    {
        get
        {
            lock (_gate)
            {
                return _running == 0 ? Task.CompletedTask : (_idle ??= new(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }
        }
    }

    private void End()
    {
        TaskCompletionSource? idle = null;
        lock (_gate)
        {
            if (--_running == 0)
            {
                (idle, _idle) = (_idle, null);
            }
        }
        idle?.TrySetResult();
    }

    private sealed class Ended(JobStops stops) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                stops.End();
            }
        }
    }
}

/// <summary>
/// A chunk's answer when its silo began to stop before the chunk was done: the chunk applied (or staged) some of its
/// lines, none after this; the job does it again elsewhere, as a replay (<see cref="JobGrain"/>).
/// </summary>
[GenerateSerializer, Alias("registry.JobWorkerStoppingException")]
public sealed class JobWorkerStoppingException(string message) : Exception(message);

/// <summary>Places a grain on the silo its key names (<see cref="SiloAddress.ToParsableString"/>), or on any when that one is gone.</summary>
public sealed class OnNamedSiloPlacement : PlacementStrategy;

/// <summary>Marks a grain placed by <see cref="OnNamedSiloPlacement"/>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class OnNamedSiloAttribute() : PlacementAttribute(new OnNamedSiloPlacement());

/// <summary>The director of <see cref="OnNamedSiloPlacement"/>.</summary>
public sealed class OnNamedSiloPlacementDirector : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var silos = context.GetCompatibleSilos(target);
        var named = SiloAddress.FromParsableString(target.GrainIdentity.Key.ToString()!);
        // The named silo left between the job's look at membership and this call: any silo does the chunk as well.
        return Task.FromResult(Array.IndexOf(silos, named) >= 0 ? named : silos[Random.Shared.Next(silos.Length)]);
    }
}
