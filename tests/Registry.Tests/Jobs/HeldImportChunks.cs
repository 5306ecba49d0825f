using Registry.Grains.Jobs;

namespace Registry.Tests.Jobs;

/// <summary>
/// Holds every import chunk at the worker until the test releases them, and signals when the first one arrived: a job
/// that is running, deterministically, without sleeps.
/// </summary>
public sealed class HeldImportChunks : IImportChunkGate
{
    private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when a chunk is being held.</summary>
    public Task Entered => _entered.Task;

    public void Release() => _released.TrySetResult();

    public async Task Enter(ImportChunk chunk)
    {
        _entered.TrySetResult();
        await _released.Task;
    }

    public void Applied(ImportChunk chunk)
    {
    }
}
