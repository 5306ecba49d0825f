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

    /// <summary>
    /// How often the outbox is swept for the notifications a gone silo left there (durable mode, <c>OutboxSweeper</c>;
    /// <c>Registry:OutboxSweepSeconds</c>): how long after a silo is counted dead its waiting notifications go out, at most.
    /// </summary>
    public TimeSpan OutboxSweepInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How old the rows of a silo membership does not list must be before they are sent for it: a silo that joined a
    /// moment ago may not be in every silo's view yet, and its rows are its own to send.
    /// </summary>
    public TimeSpan OutboxMinimumAge { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// How old a row to verify (a create or delete whose call answered a storage timeout) must be before a sweep checks
    /// whether its write landed: a write the registry stopped waiting for can still land until the storage client's own
    /// tries end (three of <c>StorageTimeoutSeconds</c>).
    /// </summary>
    public TimeSpan OutboxVerifyAge { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>The hub name of a host name.</summary>
    public static string HubNameOf(string hostName) => hostName.Split('.', 2)[0];
}
