using Registry.Abstractions;

namespace Registry.Grains.Heartbeats;

/// <summary>The registry's heartbeat monitoring settings, as the grains see them (the host binds <c>Registry:Heartbeat</c>).</summary>
public sealed class HeartbeatMonitorOptions
{
    private volatile HeartbeatPolicy? _defaultPolicy;

    /// <summary>
    /// The policy of every device without an override; null (the default) monitors nothing unless a device sets one. Read
    /// at each use: a durable silo replaces it with the cluster's stored default before it joins, and again when another
    /// silo's start changes that (the host's <c>ClusterHeartbeatDefault</c>).
    /// </summary>
    public HeartbeatPolicy? DefaultPolicy
    {
        get => _defaultPolicy;
        set => _defaultPolicy = value;
    }

    /// <summary>The hub name alerts carry (<c>hubName</c>, <c>user-id</c>).</summary>
    public string HubName { get; set; } = "registry";

    /// <summary>How soon a device the monitor could not ask (its silo failing, storage down) is asked again.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(10);
}
