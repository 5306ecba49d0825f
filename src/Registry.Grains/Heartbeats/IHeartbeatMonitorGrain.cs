using Registry.Abstractions;

namespace Registry.Grains.Heartbeats;

/// <summary>
/// One monitor partition (key = the device's <see cref="DevicePartitioner"/> partition, as the index): the devices it
/// watches and their deadlines. Devices call it only when monitoring starts, changes or stops, or when they recover.
/// </summary>
[Alias("registry.IHeartbeatMonitorGrain")]
public interface IHeartbeatMonitorGrain : IGrainWithIntegerKey
{
    /// <summary>
    /// Starts (or updates) watching <paramref name="deviceId"/>: its next deadline is <paramref name="reference"/> plus the
    /// policy's interval and grace. <paramref name="heartbeat"/> is the heartbeat that made the call, if one did: a device
    /// in an outage has then recovered. Returns once the membership is stored and any alert is published.
    /// </summary>
    [Alias("Watch")]
    Task Watch(string deviceId, HeartbeatPolicy policy, DateTime reference, DateTime? heartbeat);

    /// <summary>Stops watching <paramref name="deviceId"/> (deleted, disabled, monitoring off); an outage in progress ends silently.</summary>
    [Alias("Unwatch")]
    Task Unwatch(string deviceId);

    /// <summary>When the device's current outage started, or null.</summary>
    [Alias("OutageOf")]
    Task<DateTime?> OutageOf(string deviceId);

    /// <summary>Outages in ordinal id order after <paramref name="afterDeviceId"/>; <c>HasMore</c> when the page stopped short.</summary>
    [Alias("Outages")]
    Task<(HeartbeatOutage[] Outages, bool HasMore)> Outages(string? afterDeviceId, int maxCount);

    /// <summary>
    /// Asks every device whose deadline has passed (by the silo's <see cref="TimeProvider"/>) and returns when that and any
    /// check already running are done. The timer and the reminder call it; so can a test on a controlled clock.
    /// </summary>
    [Alias("Check")]
    Task Check();

    /// <summary>
    /// Nothing but the activation it causes (<see cref="MonitorWaker"/>): a partition lost with its silo comes back now, not
    /// at its reminder's next tick. A partition that watches nothing and has nothing to write goes away again.
    /// </summary>
    [Alias("Wake")]
    Task Wake();

    /// <summary>
    /// The registry default in force on the caller's silo is now <paramref name="policy"/> (null: off): every watched
    /// device whose stored policy differs is asked at once, so a lowered default is judged now rather than at the old
    /// deadline, and a default switched off drops its devices and ends their outages now. Each silo calls every partition
    /// after it takes a new default, so the last call comes after every device's silo has it.
    /// </summary>
    [Alias("DefaultChanged")]
    Task DefaultChanged(HeartbeatPolicy? policy);

    /// <summary>Whether this partition watches <paramref name="deviceId"/>.</summary>
    [Alias("IsWatching")]
    Task<bool> IsWatching(string deviceId);

    /// <summary>How many devices this partition watches (cost measurements, tests).</summary>
    [Alias("Count")]
    Task<int> Count();
}

/// <summary>What the monitor asks a device grain when its deadline passes (implemented by the device grain).</summary>
[Alias("registry.IMonitoredDevice")]
public interface IMonitoredDevice : IGrainWithStringKey
{
    /// <summary>The device's view: its policy in effect (null: no longer monitored) and whether it is now silent past it.</summary>
    [Alias("Probe")]
    Task<HeartbeatProbe> Probe();
}

/// <summary>
/// A device's answer to <see cref="IMonitoredDevice.Probe"/>. <see cref="DueAt"/> is its reference time (the latest of
/// its last heartbeat, its activation and when monitoring was armed) plus interval and grace; <see cref="Missed"/> when
/// the device's clock has passed it.
/// </summary>
[GenerateSerializer, Immutable, Alias("registry.HeartbeatProbe")]
public sealed record HeartbeatProbe(
    [property: Id(0)] HeartbeatPolicy? Policy,
    [property: Id(1)] DateTime DueAt,
    [property: Id(2)] DateTime? LastHeartbeatTime,
    [property: Id(3)] bool Missed);
