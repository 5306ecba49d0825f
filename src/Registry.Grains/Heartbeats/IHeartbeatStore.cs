using Registry.Abstractions;

namespace Registry.Grains.Heartbeats;

/// <summary>
/// Where monitor partitions persist which devices they watch, one record per device, so a change costs the change and
/// not the partition. Only membership, policy and outage start are stored (they change when monitoring starts or stops
/// and twice per outage); deadlines are not (see <see cref="HeartbeatMonitorGrain"/>). The host implements it: an Azure
/// Table in durable mode, memory otherwise. docs/storage.md.
/// </summary>
public interface IHeartbeatStore
{
    /// <summary>Every device stored for <paramref name="partition"/>, in any order.</summary>
    Task<IReadOnlyList<MonitoredDevice>> Load(int partition);

    /// <summary>Stores <paramref name="changes"/> (at most one per id). Idempotent, since a write that failed part-way is retried whole.</summary>
    Task Apply(int partition, IReadOnlyList<MonitorChange> changes);
}

/// <summary>A watched device as stored: its policy, and when its outage started (null: none).</summary>
[GenerateSerializer, Immutable, Alias("registry.MonitoredDevice")]
public sealed record MonitoredDevice(
    [property: Id(0)] string DeviceId,
    [property: Id(1)] HeartbeatPolicy Policy,
    [property: Id(2)] DateTime? OutageSince);

/// <summary>One change: the device as it must now be stored, or its removal (<see cref="Device"/> null).</summary>
[GenerateSerializer, Immutable, Alias("registry.MonitorChange")]
public readonly record struct MonitorChange([property: Id(0)] string DeviceId, [property: Id(1)] MonitoredDevice? Device);
