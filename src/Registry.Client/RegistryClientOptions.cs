namespace Registry.Client;

/// <summary>
/// Where a registry cluster is and how it is named: what an Orleans client needs to find its silos. The values are the
/// silos' own settings of the same names (<c>Registry:StorageConnectionString</c>, <c>ClusterId</c>, <c>ServiceId</c>,
/// <c>StoragePrefix</c>, <c>GatewayPort</c>), so a client app copies them from the cluster's configuration.
/// </summary>
public sealed class RegistryClientOptions
{
    /// <summary>
    /// The cluster's Azure Storage connection string: the client reads the silos' gateway list from its membership
    /// table. Empty: the registry runs embedded (<c>Registry:Role=all</c> in memory) on this machine and is reached on
    /// <see cref="GatewayPort"/> of loopback.
    /// </summary>
    public string? StorageConnectionString { get; set; }

    public string ClusterId { get; set; } = "registry";

    public string ServiceId { get; set; } = "registry";

    /// <summary>The silos' <c>Registry:StoragePrefix</c>: it names the membership table and the event queues.</summary>
    public string StoragePrefix { get; set; } = "registry";

    /// <summary>Orleans' gateway port of the embedded registry; unused with <see cref="StorageConnectionString"/>.</summary>
    public int GatewayPort { get; set; } = 30000;

    /// <summary>
    /// Subscribe to the registry's event stream (<see cref="Abstractions.RegistryStreams"/>): only when the silos route
    /// at least one source (<c>Registry:Routes</c>); without a route there is no stream to join.
    /// </summary>
    public bool Events { get; set; }

    /// <summary>How long the first connection is retried while no silo answers (silos started after the client).</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a grain call waits for its answer (Orleans' <c>ClientMessagingOptions.ResponseTimeout</c>): the silos'
    /// <c>Registry:ResponseTimeoutSeconds</c>. A call that a silo forwarded to a silo that then died is answered only by it.
    /// </summary>
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(30);

    public bool IsDurable => !string.IsNullOrWhiteSpace(StorageConnectionString);
}
