using Registry.Abstractions;

namespace Registry.Grains.Devices;

/// <summary>Holds the latest report of each silo; key 0.</summary>
[KeepAlive]
public sealed class ConnectedDeviceCountGrain(IClusterMembershipService membership) : Grain, IConnectedDeviceCountGrain
{
    private readonly Dictionary<SiloAddress, (long Version, int Count)> _silos = [];

    public Task Report(SiloAddress silo, long version, int count)
    {
        if (!_silos.TryGetValue(silo, out var held) || held.Version < version)
        {
            _silos[silo] = (version, count);
        }
        return Task.CompletedTask;
    }

    public Task<long> Count()
    {
        var members = membership.CurrentSnapshot.Members;
        long total = 0;
        foreach (var (silo, (_, count)) in _silos.ToArray())
        {
            if (members.TryGetValue(silo, out var member) && member.Status == SiloStatus.Active)
            {
                total += count;
            }
            else if (member is null || member.Status == SiloStatus.Dead)
            {
                _silos.Remove(silo); // gone for good: a restarted silo is a new address
            }
        }
        return Task.FromResult(total);
    }
}
