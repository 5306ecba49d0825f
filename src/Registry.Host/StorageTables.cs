using System.Globalization;
using Azure.Data.Tables;

namespace Registry.Host;

/// <summary>
/// The Azure tables one kind of grouped entity (index entries, <c>Batched</c> device rows) is spread over: storage group
/// <c>g</c> (<see cref="StorageGroups"/>) lives in table <c>g mod Count</c> (<c>Registry:StorageTables</c>, recorded at
/// the first start with the other layout settings). One table, the default, is the layout registries always had, under
/// the same name; table <c>t</c> &gt; 0 is the name with <c>t</c> appended. A group's entities stay in one table, so its
/// range queries and entity-group transactions are unchanged. Why more than one: Azurite keeps a table as one in-memory
/// collection whose every insert splices the entity into sorted index arrays of the whole table (165 µs a row at a
/// million rows), so a table's size, not a key's, bounds a million-device import there. Azure Table scales by
/// PartitionKey and gains nothing from it. docs/storage.md §10.
/// </summary>
public sealed class StorageTables
{
    /// <summary>The layout registries had before the setting, and the default.</summary>
    public const int DefaultCount = 1;

    /// <summary>At most: each is created at every start, and a registry's tables are listed together.</summary>
    public const int MaxCount = 64;

    private readonly TableClient[] _tables;

    private StorageTables(TableClient[] tables) => _tables = tables;

    /// <summary>
    /// The <paramref name="count"/> tables named after <paramref name="name"/> (<c>name</c>, <c>name1</c>, …) of
    /// <paramref name="service"/>.
    /// </summary>
    public static StorageTables Of(TableServiceClient service, string name, int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, MaxCount);
        return new StorageTables(Enumerable.Range(0, count).Select(t => service.GetTableClient(Name(name, t))).ToArray());
    }

    /// <summary>A single table: the layout before the setting (and the stores' tests).</summary>
    public static implicit operator StorageTables(TableClient table) => new([table]);

    /// <summary>Table <paramref name="table"/>'s name: <paramref name="name"/> itself for the first, then with its number.</summary>
    public static string Name(string name, int table) =>
        table == 0 ? name : name + table.ToString(CultureInfo.InvariantCulture);

    public int Count => _tables.Length;

    /// <summary>Every table, the first first.</summary>
    public IReadOnlyList<TableClient> All => _tables;

    /// <summary>The table of the storage group whose PartitionKey is <paramref name="groupKey"/> (<c>g</c> and its number).</summary>
    public TableClient For(string groupKey)
    {
        if (_tables.Length == 1)
        {
            return _tables[0];
        }
        if (groupKey.Length < 2 || groupKey[0] != 'g'
            || !int.TryParse(groupKey.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out var group))
        {
            throw new ArgumentException($"'{groupKey}' is not a storage group's key.", nameof(groupKey));
        }
        return _tables[group % _tables.Length];
    }
}
