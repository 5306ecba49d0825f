using Registry.Abstractions;

namespace Registry.Grains.Heartbeats;

/// <summary>The registry's heartbeat monitoring settings, as the grains see them (the host binds <c>Registry:Heartbeat</c>).</summary>
public sealed class HeartbeatMonitorOptions
{
    /// <summary>The policy of every device without an override; null (the default) monitors nothing unless a device sets one.</summary>
    public HeartbeatPolicy? DefaultPolicy { get; set; }

    /// <summary>The hub name alerts carry (<c>hubName</c>, <c>user-id</c>).</summary>
    public string HubName { get; set; } = "registry";

    /// <summary>How soon a device the monitor could not ask (its silo failing, storage down) is asked again.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(10);
}
