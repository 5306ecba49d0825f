namespace Registry.Bench.Heartbeats;

/// <summary>The ceiling of a heartbeat: a grain call that does nothing, through the same client, silo and scheduler.</summary>
[Alias("bench.INoopGrain")]
public interface INoopGrain : IGrainWithStringKey
{
    [Alias("Ping")]
    Task<int> Ping();
}

/// <summary>Answers at once; keyed like a device so lookups cost what a device's do.</summary>
public sealed class NoopGrain : Grain, INoopGrain
{
    public Task<int> Ping() => Task.FromResult(0);
}
