using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace Registry.Tests.Infrastructure;

/// <summary>
/// Waits for membership to declare a killed silo dead, asked of each survivor's own membership view. Asking the cluster
/// through a grain call instead (<c>IManagementGrain.GetHosts</c>) can be routed to the dead silo and wait out the
/// 30-second response timeout: a fresh-clone CI run failed that way (2026-12-03).
/// </summary>
public static class SiloDeath
{
    /// <summary>Returns once every silo of <paramref name="cluster"/> other than <paramref name="victim"/> sees it dead.</summary>
    public static async Task UntilSurvivorsSeeItDeadAsync(TestCluster cluster, SiloAddress victim, CancellationToken ct)
    {
        var views = cluster.Silos
            .Where(s => s.SiloAddress != victim)
            .Cast<InProcessSiloHandle>()
            .Select(s => s.SiloHost.Services.GetRequiredService<IClusterMembershipService>())
            .ToList();
        await Task.WhenAll(views.Select(async view =>
        {
            await foreach (var snapshot in view.MembershipUpdates.WithCancellation(ct))
            {
                if (snapshot.GetSiloStatus(victim) == SiloStatus.Dead)
                {
                    return;
                }
            }
        }));
    }
}
