using System.Globalization;

namespace Registry.Host;

/// <summary>
/// The PartitionKeys the durable index entries and batched device rows share: index partition <c>p</c> is stored under
/// group <c>p mod Count</c> (<c>Registry:StorageGroups</c>, recorded at the first start with the other layout settings).
/// Few groups let a bulk's writes meet in entity-group transactions (100 ids fall in at most 32 of 32 groups, ~3 a
/// transaction); many keep each group small (Azurite finds an entity by scanning its PartitionKey's rows; an Azure
/// Table PartitionKey is served by one partition server) and let more transactions run side by side.
/// </summary>
public sealed class StorageGroups
{
    /// <summary>The count registries had before it was a setting, and the default.</summary>
    public const int DefaultCount = Registry.Grains.Index.IndexLayout.StorageGroupsBeforeTheSetting;

    /// <summary>As many as there can be index partitions: more would leave keys no partition uses.</summary>
    public const int MaxCount = RegistrySettings.MaxIndexPartitions;

    public static readonly StorageGroups Default = new(DefaultCount);

    private readonly string _format;

    public StorageGroups(int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, MaxCount);
        Count = count;
        // Two digits as before the setting (g00..g31), more only when the count needs them.
        _format = "D" + Math.Max(2, (count - 1).ToString(CultureInfo.InvariantCulture).Length).ToString(CultureInfo.InvariantCulture);
    }

    public int Count { get; }

    /// <summary>The PartitionKey of <paramref name="partition"/>'s index entries (and, in batched mode, of its devices' rows).</summary>
    public string Key(int partition) => "g" + (partition % Count).ToString(_format, CultureInfo.InvariantCulture);

    /// <summary>The partitions of <paramref name="partitions"/> that share each PartitionKey: one range query reads each list.</summary>
    public IReadOnlyList<IReadOnlyList<int>> Of(int partitions) =>
        Enumerable.Range(0, partitions).GroupBy(Key).Select(g => (IReadOnlyList<int>)g.ToArray()).ToArray();
}
