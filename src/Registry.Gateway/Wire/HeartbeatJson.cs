using System.Text.Json;
using System.Text.Json.Serialization;
using Registry.Abstractions;

namespace Registry.Gateway.Wire;

/// <summary>
/// <c>GET/PUT /devices/{id}/heartbeat</c>'s answer (this registry's extension, docs/wire-contract.md): whether the device
/// is monitored, by which policy and from where, its last heartbeat, and its outage.
/// </summary>
internal sealed record DeviceHeartbeatJson(
    string DeviceId,
    string Monitoring,
    bool Watched,
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
        heartbeat.Watched,
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
internal sealed record HeartbeatRequestJson(
    [property: JsonConverter(typeof(IntervalSecondsConverter))] int? IntervalSeconds,
    [property: JsonConverter(typeof(GraceSecondsConverter))] int? GraceSeconds,
    string? Monitoring)
{
    public const string On = "on";
    public const string Off = "off";
    public const string Default = "default";

    private static readonly string[] Members = ["intervalSeconds", "graceSeconds", "monitoring"];

    /// <summary>
    /// ArgumentInvalid for a member other than the three, or one given twice: the serializer skips the first and keeps
    /// the last, so a misspelt <c>graceSecond</c> was taken as grace 0 and <c>{"intervalSeconds":30,"intervalSeconds":40}</c>
    /// as 40. Called on a body that already deserialized, so it is one JSON object.
    /// </summary>
    public static void EnsureKnownMembersOnce(ReadOnlySpan<byte> utf8)
    {
        if (utf8.StartsWith("\uFEFF"u8))
        {
            utf8 = utf8[3..];
        }
        var reader = new Utf8JsonReader(utf8);
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        while (reader.Read())
        {
            if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1)
            {
                var name = reader.GetString()!;
                if (!Members.Contains(name, StringComparer.OrdinalIgnoreCase))
                {
                    throw RegistryException.Invalid($"The heartbeat setting has a member '{name}': only intervalSeconds, graceSeconds and monitoring are allowed.");
                }
                if (!seen.Add(name))
                {
                    throw RegistryException.Invalid($"The heartbeat setting gives '{name}' more than once.");
                }
            }
        }
    }

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
                throw RegistryException.Invalid("A heartbeat policy needs intervalSeconds (and optionally graceSeconds), or send {\"monitoring\":\"off\"} or {\"monitoring\":\"default\"}.");
            case Off or Default:
                throw RegistryException.Invalid($"\"monitoring\":\"{Monitoring}\" takes no intervalSeconds or graceSeconds.");
            default:
                throw RegistryException.Invalid($"monitoring must be \"{On}\", \"{Off}\" or \"{Default}\", not \"{Monitoring}\".");
        }
    }
}

/// <summary>One device of <c>GET /heartbeat/outages</c>.</summary>
internal sealed record HeartbeatOutageJson(string DeviceId, string OutageSince);
