using Registry.Abstractions;

namespace Registry.Gateway.Wire;

/// <summary>
/// <c>GET/PUT /devices/{id}/heartbeat</c>'s answer (this registry's extension, docs/wire-contract.md): whether the device
/// is monitored, by which policy and from where, its last heartbeat, and its outage.
/// </summary>
internal sealed record DeviceHeartbeatJson(
    string DeviceId,
    string Monitoring,
    string Source,
    int? IntervalSeconds,
    int? GraceSeconds,
    string? LastHeartbeatTime,
    bool InOutage,
    string? OutageSince,
    string DeviceStatus)
{
    public static DeviceHeartbeatJson From(DeviceHeartbeat heartbeat) => new(
        heartbeat.DeviceId,
        heartbeat.Monitored ? HeartbeatRequestJson.On : HeartbeatRequestJson.Off,
        heartbeat.Source == HeartbeatPolicySource.Device ? "device" : "registry",
        heartbeat.Policy?.IntervalSeconds,
        heartbeat.Policy?.GraceSeconds,
        heartbeat.LastHeartbeatTime is { } last ? DeviceWireMapper.FormatDate(last) : null,
        heartbeat.OutageSince is not null,
        heartbeat.OutageSince is { } since ? DeviceWireMapper.FormatDate(since) : null,
        heartbeat.DeviceDisabled ? "disabled" : "enabled");
}

/// <summary>
/// <c>PUT /devices/{id}/heartbeat</c>'s body: <c>{"intervalSeconds":n,"graceSeconds":n}</c> (a policy of the device's
/// own; grace 0 when absent), <c>{"monitoring":"off"}</c>, or <c>{"monitoring":"default"}</c> (back to the registry default).
/// </summary>
internal sealed record HeartbeatRequestJson(int? IntervalSeconds, int? GraceSeconds, string? Monitoring)
{
    public const string On = "on";
    public const string Off = "off";
    public const string Default = "default";

    /// <summary>The override to store (null: clear it); ArgumentInvalid for anything else.</summary>
    public HeartbeatOverride? ToOverride()
    {
        var hasPolicy = IntervalSeconds is not null || GraceSeconds is not null;
        switch (Monitoring)
        {
            case Off when !hasPolicy:
                return HeartbeatOverride.Off;
            case Default when !hasPolicy:
                return null;
            case null or On when IntervalSeconds is { } interval:
                return new HeartbeatOverride(new HeartbeatPolicy(interval, GraceSeconds ?? 0).EnsureValid());
            case null or On:
                throw RegistryException.Invalid("A heartbeat policy needs intervalSeconds (and optionally graceSeconds); or send {\"monitoring\":\"off\"} or {\"monitoring\":\"default\"}.");
            case Off or Default:
                throw RegistryException.Invalid($"\"monitoring\":\"{Monitoring}\" takes no intervalSeconds or graceSeconds.");
            default:
                throw RegistryException.Invalid($"monitoring must be \"{On}\", \"{Off}\" or \"{Default}\", not \"{Monitoring}\".");
        }
    }
}

/// <summary>One device of <c>GET /heartbeat/outages</c>.</summary>
internal sealed record HeartbeatOutageJson(string DeviceId, string OutageSince);
