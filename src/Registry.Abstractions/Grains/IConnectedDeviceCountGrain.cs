namespace Registry.Abstractions;

/// <summary>
/// <c>connectedDeviceCount</c> of <c>GET /statistics/service</c>: the sum of each live silo's count of connected
/// devices (the silo's <c>ConnectedDevices</c>). A silo that died counts no more (its device grains, and the sessions they
/// held, are gone); a device whose grain died with it is counted again when its edge re-connects the session.
/// </summary>
[Alias("registry.IConnectedDeviceCountGrain")]
public interface IConnectedDeviceCountGrain : IGrainWithIntegerKey
{
    /// <summary>The count of <paramref name="silo"/> at <paramref name="version"/>; an older version than the one held changes nothing.</summary>
    [Alias("Report")]
    Task Report(SiloAddress silo, long version, int count);

    /// <summary>Connected devices across the live silos.</summary>
    [Alias("Count")]
    Task<long> Count();
}

