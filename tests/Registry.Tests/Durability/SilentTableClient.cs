using Azure;
using Azure.Data.Tables;

namespace Registry.Tests.Durability;

/// <summary>
/// A table whose storage has stopped answering (a hung server): a claim (upsert) or a range query waits until its caller
/// cancels it, and never answers otherwise. <see cref="Asked"/> counts the requests that reached it.
/// </summary>
internal sealed class SilentTableClient : TableClient
{
    private int _asked;

    public int Asked => Volatile.Read(ref _asked);

    public override async Task<Response> UpsertEntityAsync<T>(T entity, TableUpdateMode mode = TableUpdateMode.Merge, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _asked);
        await Task.Delay(Timeout.Infinite, cancellationToken);
        throw new InvalidOperationException("unreachable");
    }

    public override AsyncPageable<T> QueryAsync<T>(string? filter = null, int? maxPerPage = null, IEnumerable<string>? select = null,
        CancellationToken cancellationToken = default) => new Silent<T>(this, cancellationToken);

    public override AsyncPageable<T> QueryAsync<T>(System.Linq.Expressions.Expression<Func<T, bool>> filter, int? maxPerPage = null,
        IEnumerable<string>? select = null, CancellationToken cancellationToken = default) => new Silent<T>(this, cancellationToken);

    private sealed class Silent<T>(SilentTableClient table, CancellationToken cancellationToken) : AsyncPageable<T>(cancellationToken)
        where T : notnull
    {
        public override async IAsyncEnumerable<Page<T>> AsPages(string? continuationToken = null, int? pageSizeHint = null)
        {
            Interlocked.Increment(ref table._asked);
            await Task.Delay(Timeout.Infinite, CancellationToken);
            yield break;
        }
    }
}
