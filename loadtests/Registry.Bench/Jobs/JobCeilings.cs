using System.Diagnostics;
using System.Text;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Specialized;
using Registry.Host;

namespace Registry.Bench.Jobs;

/// <summary>
/// The ceilings issue 10 divides the job figures by, on the same Azurite in the same round: what storage alone does
/// with the same rows and bytes, with no registry in between.
/// </summary>
internal static class JobCeilings
{
    private const int Transaction = 100;

    /// <summary>
    /// Export's storage part: every device row the registry wrote, each read once by parallel range scans of the
    /// PartitionKeys they are stored under (the storage groups of the index partitions, <see cref="StorageGroups"/>),
    /// <paramref name="parallelism"/> groups at once. Returns the rows by group, for the import ceiling.
    /// </summary>
    public static async Task<(TimeSpan Elapsed, List<TableEntity>[] Rows)> ScanAsync(StorageTables rows, StorageGroups groups, int partitions, int parallelism)
    {
        var keys = Enumerable.Range(0, partitions).Select(groups.Key).Distinct().ToArray();
        var result = new List<TableEntity>[keys.Length];
        var stopwatch = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, keys.Length), new ParallelOptions { MaxDegreeOfParallelism = parallelism }, async (g, _) =>
        {
            var list = new List<TableEntity>();
            await foreach (var row in rows.For(keys[g]).QueryAsync<TableEntity>($"PartitionKey eq '{keys[g]}'"))
            {
                list.Add(row);
            }
            result[g] = list;
        });
        return (stopwatch.Elapsed, result);
    }

    /// <summary>Export's blob part: <paramref name="bytes"/> staged as blocks of <paramref name="blockBytes"/>, <paramref name="parallelism"/> at once, then committed.</summary>
    public static async Task<TimeSpan> UploadAsync(BlobContainerClient container, string blobName, ReadOnlyMemory<byte> bytes, int blockBytes, int parallelism)
    {
        var blob = container.GetBlockBlobClient(blobName);
        var count = (bytes.Length + blockBytes - 1) / blockBytes;
        var ids = Enumerable.Range(0, count).Select(i => Convert.ToBase64String(Encoding.ASCII.GetBytes($"b{i:D10}"))).ToArray();
        var stopwatch = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = parallelism }, async (i, _) =>
        {
            var slice = bytes.Slice(i * blockBytes, Math.Min(blockBytes, bytes.Length - i * blockBytes));
            await blob.StageBlockAsync(ids[i], BinaryData.FromBytes(slice).ToStream());
        });
        await blob.CommitBlockListAsync(ids);
        return stopwatch.Elapsed;
    }

    /// <summary>
    /// Import's: the same rows the registry wrote for the devices (each device row with its stored bytes, and its index
    /// entry), inserted into fresh tables as entity-group transactions of 100 rows of one PartitionKey,
    /// <paramref name="parallelism"/> transactions at once; spread over <paramref name="tableCount"/> tables of each kind
    /// by storage group as the registry's (<see cref="StorageTables"/>).
    /// </summary>
    public static async Task<TimeSpan> InsertAsync(TableServiceClient tables, string name, List<TableEntity>[] rows, int parallelism, int tableCount = StorageTables.DefaultCount)
    {
        var deviceRows = StorageTables.Of(tables, name + "Rows", tableCount);
        var index = StorageTables.Of(tables, name + "Index", tableCount);
        foreach (var table in deviceRows.All.Concat(index.All))
        {
            await table.CreateIfNotExistsAsync();
        }
        var work = rows.SelectMany(partition => partition.Chunk(Transaction).SelectMany(chunk => new[]
        {
            (Table: deviceRows.For(chunk[0].PartitionKey), Actions: chunk.Select(r => new TableTransactionAction(TableTransactionActionType.Add,
                new TableEntity(r.PartitionKey, r.RowKey) { ["Data"] = r.GetBinary("Data") })).ToArray()),
            (Table: index.For(chunk[0].PartitionKey), Actions: chunk.Select(r => new TableTransactionAction(TableTransactionActionType.UpsertReplace,
                new TableEntity(r.PartitionKey, r.RowKey) { ["Enabled"] = true })).ToArray()),
        })).ToArray();
        var stopwatch = Stopwatch.StartNew();
        await Parallel.ForEachAsync(work, new ParallelOptions { MaxDegreeOfParallelism = parallelism }, async (w, _) =>
            await w.Table.SubmitTransactionAsync(w.Actions));
        return stopwatch.Elapsed;
    }
}
