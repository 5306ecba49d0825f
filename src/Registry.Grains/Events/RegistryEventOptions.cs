using Registry.Abstractions;

namespace Registry.Grains.Events;

/// <summary>What the event paths need from configuration: the hub name events carry and the sources routes name.</summary>
public sealed class RegistryEventOptions
{
    /// <summary>
    /// The hub's name, IoT Hub's <c>hubName</c> and <c>user-id</c>: the host name up to its first dot
    /// (<c>myhub.azure-devices.net</c> gives <c>myhub</c>).
    /// </summary>
    public string HubName { get; set; } = "localhost";

    /// <summary>The <see cref="RegistryEventSources"/> an enabled route names; empty: nothing is produced (IoT Hub's default).</summary>
    public IReadOnlySet<string> RoutedSources { get; set; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>The hub name of a host name.</summary>
    public static string HubNameOf(string hostName) => hostName.Split('.', 2)[0];
}
