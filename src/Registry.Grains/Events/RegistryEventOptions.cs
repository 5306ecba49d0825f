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

    /// <summary>
    /// How long a lifecycle notification the event stream refused is sent again before it is logged as lost
    /// (<see cref="PendingNotifications"/>).
    /// </summary>
    public TimeSpan PublishRetryWindow { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>The first pause before a refused notification is sent again; each refusal doubles it, up to 30 s.</summary>
    public TimeSpan PublishRetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How many refused notifications a silo keeps to send again; one more is logged as lost at once.</summary>
    public int PublishRetryCapacity { get; set; } = 100_000;

    /// <summary>The hub name of a host name.</summary>
    public static string HubNameOf(string hostName) => hostName.Split('.', 2)[0];
}
