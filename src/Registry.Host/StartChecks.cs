using System.Net;
using System.Net.Sockets;
using Registry.Gateway.Throttling;

namespace Registry.Host;

/// <summary>
/// Settings that belong to the gateway's parts (throttles, pinned access policies), checked with the other settings
/// before anything is written: built later, their mistakes surfaced after the policy file, the certificates and the
/// owner connection string were already written, and as a stack trace rather than one line.
/// </summary>
internal static class StartChecks
{
    public static void Validate(IConfigurationSection registry, RegistrySettings settings)
    {
        var throttling = RegistrySettings.Bind<ThrottlingOptions>(registry.GetSection(ThrottlingOptions.Section));
        var problems = new List<string>(throttling.Problems());
        // The binder also takes an enum's number ("0", "6"); a tier is named, as the README lists them.
        if (registry.GetSection(ThrottlingOptions.Section)["Tier"] is { } tier && Enum.IsDefined(throttling.Tier)
            && !Enum.GetNames<HubTier>().Contains(tier.Trim(), StringComparer.OrdinalIgnoreCase))
        {
            problems.Add($"Registry:Throttling:Tier '{tier}' is not one of {string.Join(", ", Enum.GetNames<HubTier>())}.");
        }
        foreach (var (name, policy) in settings.AccessPolicies)
        {
            try
            {
                policy.ToPolicy(name);
            }
            catch (ArgumentException e)
            {
                problems.Add($"Registry:AccessPolicies:{name} is not usable: {e.Message}");
            }
        }
        if (problems.Count > 0)
        {
            throw new RegistryStartupException($"Invalid configuration, nothing was started: {string.Join(" ", problems)}");
        }
        ObservabilitySettings.Bind(registry).Validate(settings.ServesEdge);
        if (settings.HostsSilo && settings.IsDurable && !IsOwnAddress(IPAddress.Parse(settings.AdvertisedAddress)))
        {
            throw new RegistryStartupException(
                $"Registry:AdvertisedAddress={settings.AdvertisedAddress} is not an address of this machine: the other silos and the clients " +
                "would look for this silo there, and Orleans would keep it Active all the same (the silos probe it over the connections it " +
                "opens to them). Advertise an address of one of this machine's interfaces (in a container, the container's own). Nothing was started.");
        }
    }

    /// <summary>
    /// Whether <paramref name="address"/> is one of this machine's: the operating system lets a socket bind it (a
    /// loopback address on Linux, an interface's own address; not one behind a NAT or of another host). Any other
    /// failure to bind says nothing about the address, and does not refuse the start.
    /// </summary>
    internal static bool IsOwnAddress(IPAddress address)
    {
        using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(address, 0));
            return true;
        }
        catch (SocketException e)
        {
            return e.SocketErrorCode != SocketError.AddressNotAvailable;
        }
    }
}
