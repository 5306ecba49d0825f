using Registry.Abstractions;

namespace Registry.Gateway;

/// <summary>The gateway's event stream endpoint (<c>GET /events/{source}</c>): which sources are routed, and its pacing.</summary>
public sealed class EventStreamOptions
{
    /// <summary>The <see cref="RegistryEventSources"/> a route is enabled for; the others answer 400 RoutingNotEnabled.</summary>
    public IReadOnlySet<string> RoutedSources { get; set; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>
    /// How often an idle stream sends a comment line, so proxies and clients that time out silent connections keep it
    /// open and a consumer that left is noticed (its next write fails) even when no event comes.
    /// </summary>
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Events a consumer may fall behind by: beyond it the gateway ends that consumer's stream rather than hold
    /// unbounded memory for a reader that does not keep up (it reconnects and misses what passed meanwhile).
    /// </summary>
    public int MaxBacklog { get; set; } = 1000;
}
