namespace Registry.Client;

/// <summary>
/// The names a registry cluster derives from its storage prefix, owned here so that silos, gateways and client apps
/// can never disagree on them.
/// </summary>
public static class RegistryClusterNames
{
    /// <summary>Azure queues behind the durable event stream: a few, so several silos pull in parallel.</summary>
    public const int EventQueueCount = 4;

    /// <summary>The prefix's letters and digits: Azure table names allow nothing else.</summary>
    public static string TablePrefix(string storagePrefix) => new(storagePrefix.Where(char.IsLetterOrDigit).ToArray());

    /// <summary>Orleans' membership table, which also lists the silos' gateway endpoints for clients.</summary>
    public static string MembershipTable(string storagePrefix) => TablePrefix(storagePrefix) + "Cluster";

    /// <summary>The durable stream's queues, named from the storage prefix so registries sharing an account never share events.</summary>
    public static List<string> EventQueueNames(string storagePrefix) =>
        Enumerable.Range(0, EventQueueCount).Select(i => $"{storagePrefix}-events-{i}".ToLowerInvariant()).ToList();
}
