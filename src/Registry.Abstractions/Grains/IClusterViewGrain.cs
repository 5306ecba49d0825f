namespace Registry.Abstractions;

/// <summary>
/// The cluster as the silo that answers sees it, from its membership view in memory: what a gateway's readiness asks.
/// Orleans' <c>IManagementGrain.GetHosts</c> reads the membership table first, so it failed while storage was down
/// although the silos answered and served.
/// </summary>
[Alias("registry.IClusterViewGrain")]
public interface IClusterViewGrain : IGrainWithIntegerKey
{
    /// <summary>The silos the answering silo holds Active, itself included when it is.</summary>
    [Alias("ActiveSilos")]
    Task<int> ActiveSilos();

    /// <summary>
    /// The answering silo's <c>Registry:ServiceId</c> (Orleans' <c>ClusterOptions.ServiceId</c>): a client joins a cluster by
    /// its ClusterId alone, so a gateway or client app compares it with its own before it serves.
    /// </summary>
    [Alias("ServiceId")]
    Task<string> ServiceId();
}
