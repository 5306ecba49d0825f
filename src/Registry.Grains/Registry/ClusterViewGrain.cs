using Orleans.Concurrency;
using Registry.Abstractions;

namespace Registry.Grains.Registry;

/// <summary>Answers from the silo it runs on (a stateless worker is placed there), without storage; key 0.</summary>
[StatelessWorker]
[Reentrant]
public sealed class ClusterViewGrain(IClusterMembershipService membership, Microsoft.Extensions.Options.IOptions<Orleans.Configuration.ClusterOptions> cluster)
    : Grain, IClusterViewGrain
{
    public Task<int> ActiveSilos() =>
        Task.FromResult(membership.CurrentSnapshot.Members.Values.Count(m => m.Status == SiloStatus.Active));

    public Task<string> ServiceId() => Task.FromResult(cluster.Value.ServiceId);
}
