using Azure;
using Azure.Data.Tables;

namespace Registry.Tests.Durability;

/// <summary>
/// A table whose writes (transactions, single inserts, upserts and deletes) wait at a gate the test opens, recording the
/// PartitionKeys in flight and the most ever in flight at once: a test sees what a store sends while storage is slow.
/// </summary>
internal sealed class GatedTableClient(TableClient inner) : TableClient
{
    private TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly object _lock = new();
    private readonly List<string> _inFlight = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int MaxInFlight { get; private set; }

    public int Requests { get; private set; }

    /// <summary>The PartitionKeys of the requests waiting at the gate.</summary>
    public IReadOnlyList<string> InFlight
    {
        get
        {
            lock (_lock)
            {
                return _inFlight.ToArray();
            }
        }
    }

    public void Open()
    {
        lock (_lock)
        {
            _gate.TrySetResult();
        }
    }

    /// <summary>Closes the gate again for the requests sent from now on, and counts <see cref="MaxInFlight"/> afresh.</summary>
    public void Close()
    {
        lock (_lock)
        {
            if (_gate.Task.IsCompleted)
            {
                _gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
            MaxInFlight = _inFlight.Count;
        }
    }

    /// <summary>Completes once <paramref name="count"/> requests wait at the gate.</summary>
    public async Task UntilInFlight(int count, CancellationToken cancellation)
    {
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                if (_inFlight.Count >= count)
                {
                    return;
                }
                changed = _changed.Task;
            }
            await changed.WaitAsync(cancellation);
        }
    }

    private async Task<T> Gated<T>(string partitionKey, Func<Task<T>> call)
    {
        Task gate;
        lock (_lock)
        {
            gate = _gate.Task;
            _inFlight.Add(partitionKey);
            Requests++;
            MaxInFlight = Math.Max(MaxInFlight, _inFlight.Count);
            var changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            changed.TrySetResult();
        }
        await gate;
        try
        {
            return await call();
        }
        finally
        {
            lock (_lock)
            {
                _inFlight.Remove(partitionKey);
            }
        }
    }

    public override Task<Response<IReadOnlyList<Response>>> SubmitTransactionAsync(
        IEnumerable<TableTransactionAction> transactionActions, CancellationToken cancellationToken = default)
    {
        var actions = transactionActions.ToArray();
        return Gated(actions[0].Entity.PartitionKey, () => inner.SubmitTransactionAsync(actions, cancellationToken));
    }

    public override Task<Response> AddEntityAsync<T>(T entity, CancellationToken cancellationToken = default) =>
        Gated(entity.PartitionKey, () => inner.AddEntityAsync(entity, cancellationToken));

    public override Task<Response> UpsertEntityAsync<T>(T entity, TableUpdateMode mode = TableUpdateMode.Merge, CancellationToken cancellationToken = default) =>
        Gated(entity.PartitionKey, () => inner.UpsertEntityAsync(entity, mode, cancellationToken));

    public override Task<Response> DeleteEntityAsync(string partitionKey, string rowKey, ETag ifMatch = default, CancellationToken cancellationToken = default) =>
        Gated(partitionKey, () => inner.DeleteEntityAsync(partitionKey, rowKey, ifMatch, cancellationToken));

    // Reads pass straight through: a store over this table loads and checks its claims while its writes wait.
    public override AsyncPageable<T> QueryAsync<T>(string? filter = null, int? maxPerPage = null, IEnumerable<string>? select = null, CancellationToken cancellationToken = default) =>
        inner.QueryAsync<T>(filter, maxPerPage, select, cancellationToken);

    public override Task<NullableResponse<T>> GetEntityIfExistsAsync<T>(string partitionKey, string rowKey, IEnumerable<string>? select = null, CancellationToken cancellationToken = default) =>
        inner.GetEntityIfExistsAsync<T>(partitionKey, rowKey, select, cancellationToken);
}
