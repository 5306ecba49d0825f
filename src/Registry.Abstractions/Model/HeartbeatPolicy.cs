using System.Globalization;

namespace Registry.Abstractions;

/// <summary>
/// When a device counts as silent: no heartbeat for <see cref="Interval"/> plus <see cref="Grace"/>. Whole seconds,
/// within <see cref="MinIntervalSeconds"/>..<see cref="MaxSeconds"/>: the monitor's grain timer serves deadlines finer
/// than the one-minute reminder, and each monitored device costs one call per interval (docs/wire-contract.md).
/// </summary>
[GenerateSerializer, Immutable, Alias("registry.HeartbeatPolicy")]
public sealed record HeartbeatPolicy([property: Id(0)] int IntervalSeconds, [property: Id(1)] int GraceSeconds)
{
    /// <summary>The shortest interval: below a second the timer's own turn is the deadline.</summary>
    public const int MinIntervalSeconds = 1;

    /// <summary>The longest interval or grace (one day): beyond it a policy is a typo, and a silent device goes unnoticed for days.</summary>
    public const int MaxSeconds = 86_400;

    public TimeSpan Interval => TimeSpan.FromSeconds(IntervalSeconds);

    public TimeSpan Grace => TimeSpan.FromSeconds(GraceSeconds);

    /// <summary>How long after its reference time (last heartbeat, or when monitoring could start) a device is missed.</summary>
    public TimeSpan Deadline => Interval + Grace;

    /// <summary>Why this policy cannot be used, or null when it can.</summary>
    public string? Problem() =>
        IntervalSeconds is < MinIntervalSeconds or > MaxSeconds
            ? string.Create(CultureInfo.InvariantCulture, $"intervalSeconds={IntervalSeconds} is out of range: use {MinIntervalSeconds} to {MaxSeconds}.")
            : GraceSeconds is < 0 or > MaxSeconds
                ? string.Create(CultureInfo.InvariantCulture, $"graceSeconds={GraceSeconds} is out of range: use 0 to {MaxSeconds}.")
                : null;

    /// <summary>Throws ArgumentInvalid when <see cref="Problem"/> finds one; callers of the grain interface meet the gateway's rule.</summary>
    public HeartbeatPolicy EnsureValid() => Problem() is { } problem ? throw RegistryException.Invalid(problem) : this;
}

/// <summary>A device's own heartbeat setting, kept with the device: a policy of its own, or monitoring off (<see cref="Policy"/> null).</summary>
[GenerateSerializer, Immutable, Alias("registry.HeartbeatOverride")]
public sealed record HeartbeatOverride([property: Id(0)] HeartbeatPolicy? Policy)
{
    public static HeartbeatOverride Off { get; } = new((HeartbeatPolicy?)null);
}

/// <summary>Where the policy in effect comes from.</summary>
[GenerateSerializer, Alias("registry.HeartbeatPolicySource")]
public enum HeartbeatPolicySource
{
    /// <summary>The registry default (<c>Registry:Heartbeat</c>), which may be off.</summary>
    Registry = 0,
    /// <summary>The device's own <see cref="HeartbeatOverride"/>.</summary>
    Device = 1,
}

/// <summary>
/// What <c>GET /devices/{id}/heartbeat</c> answers: the device's policy (null: off), its source, and the outage state.
/// A disabled device keeps its policy but is not monitored (<see cref="DeviceDisabled"/>), so a caller who just set
/// one sees what was stored and why it does not run.
/// </summary>
[GenerateSerializer, Immutable, Alias("registry.DeviceHeartbeat")]
public sealed record DeviceHeartbeat(
    [property: Id(0)] string DeviceId,
    [property: Id(1)] HeartbeatPolicy? Policy,
    [property: Id(2)] HeartbeatPolicySource Source,
    [property: Id(3)] DateTime? LastHeartbeatTime,
    [property: Id(4)] DateTime? OutageSince)
{
    /// <summary>The device is disabled: its policy is kept and takes effect when it is enabled again.</summary>
    [Id(5)]
    public bool DeviceDisabled { get; init; }

    /// <summary>
    /// The monitor times the device now: silent past its deadline it is missed. False while a policy is in effect but the
    /// device has not beaten since its grain activated (nor had a policy put or a re-enable), which starts the timing.
    /// </summary>
    [Id(6)]
    public bool Watched { get; init; }

    /// <summary>A policy is in effect: the device is enabled and its policy is not off.</summary>
    public bool Monitored => Policy is not null && !DeviceDisabled;
}

/// <summary>A device in a heartbeat outage: silent since its deadline passed at <see cref="Since"/>.</summary>
[GenerateSerializer, Immutable, Alias("registry.HeartbeatOutage")]
public sealed record HeartbeatOutage([property: Id(0)] string DeviceId, [property: Id(1)] DateTime Since);

/// <summary>One page of the devices in an outage, in the registry's stable order, with the cursor for the next (null at the end).</summary>
[GenerateSerializer, Immutable, Alias("registry.HeartbeatOutagePage")]
public sealed record HeartbeatOutagePage(
    [property: Id(0)] IReadOnlyList<HeartbeatOutage> Outages,
    [property: Id(1)] string? Continuation);
