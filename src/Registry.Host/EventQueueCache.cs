using Orleans.Configuration;
using Orleans.Providers.Streams.AzureQueue;
using Orleans.Providers.Streams.Common;
using Orleans.Streams;

namespace Registry.Host;

/// <summary>
/// Orleans' Azure Queue stream adapter with one change: each queue's cache hands out cursors that survive a cache miss
/// on refresh (<see cref="RecoveringQueueCache"/>). Everything else (queues, mapper, receivers) is Orleans' own.
/// </summary>
public sealed class RecoveringAzureQueueAdapterFactory(string name, AzureQueueOptions options, SimpleQueueCacheOptions cacheOptions,
    IQueueDataAdapter<string, IBatchContainer> dataAdapter, ILoggerFactory loggerFactory)
    : AzureQueueAdapterFactory(name, options, cacheOptions, dataAdapter, loggerFactory)
{
    private readonly RecoveringQueueAdapterCache _cache = new(new SimpleQueueAdapterCache(cacheOptions, name, loggerFactory), loggerFactory);

    /// <summary>Registered after <c>AddAzureQueueStreams</c> under the provider's name, so the provider resolves this one.</summary>
    public static new RecoveringAzureQueueAdapterFactory Create(IServiceProvider services, string name)
    {
        var factory = ActivatorUtilities.CreateInstance<RecoveringAzureQueueAdapterFactory>(services, name,
            services.GetOptionsByName<AzureQueueOptions>(name), services.GetOptionsByName<SimpleQueueCacheOptions>(name),
            services.GetKeyedService<IQueueDataAdapter<string, IBatchContainer>>(name) ?? services.GetRequiredService<IQueueDataAdapter<string, IBatchContainer>>());
        factory.Init();
        return factory;
    }

    /// <inheritdoc/>
    public override IQueueAdapterCache GetQueueAdapterCache() => _cache;
}

/// <summary>Makes each queue's cache a <see cref="RecoveringQueueCache"/> around the cache Orleans would have made.</summary>
public sealed class RecoveringQueueAdapterCache(IQueueAdapterCache inner, ILoggerFactory loggers) : IQueueAdapterCache
{
    /// <inheritdoc/>
    public IQueueCache CreateQueueCache(QueueId queueId) =>
        new RecoveringQueueCache(inner.CreateQueueCache(queueId), loggers.CreateLogger<RecoveringQueueCache>());
}

/// <summary>
/// A queue cache whose cursors, asked to start again at a sequence token the cache has already dropped, start at the
/// messages that have just come instead of throwing.
/// </summary>
/// <remarks>
/// Why: in Orleans 10.4.2 a consumer's cursor that waits for a token (e.g. the one its subscriber handed back after a
/// silo restart, when the new receiver's numbering starts again) does not pin the cache; once the messages of the
/// queue's other streams past that token are purged, the pulling agent's <c>Refresh</c> of that cursor throws
/// <see cref="QueueCacheMissException"/> out of its read loop, on every read, for good: every stream of that queue
/// stops (README Known limits, review of 2026-12-07). The messages the cursor waited for are gone from the cache
/// either way; what this changes is that the streams go on.
/// </remarks>
public sealed partial class RecoveringQueueCache(IQueueCache inner, ILogger<RecoveringQueueCache> logger) : IQueueCache
{
    /// <summary>How many cursors started again after a miss (for tests and diagnostics).</summary>
    public int Recoveries => _recoveries;

    private int _recoveries;

    /// <inheritdoc/>
    public void AddToCache(IList<IBatchContainer> messages) => inner.AddToCache(messages);

    /// <inheritdoc/>
    public bool TryPurgeFromCache(out IList<IBatchContainer> purgedItems) => inner.TryPurgeFromCache(out purgedItems!);

    /// <inheritdoc/>
    public bool IsUnderPressure() => inner.IsUnderPressure();

    /// <inheritdoc/>
    public int GetMaxAddCount() => inner.GetMaxAddCount();

    /// <inheritdoc/>
    public void UpdateDeliveryProgress(StreamSequenceToken? earliestSubscriptionToken, DateTime utcNow) =>
        inner.UpdateDeliveryProgress(earliestSubscriptionToken, utcNow);

    /// <inheritdoc/>
    [Obsolete("Use TryGetCacheCursor instead.")]
    public IQueueCacheCursor GetCacheCursor(StreamId streamId, StreamSequenceToken? token) =>
        new Cursor(this, streamId, inner.GetCacheCursor(streamId, token));

    /// <inheritdoc/>
    public QueueCacheCursorResult<IQueueCacheCursor> TryGetCacheCursor(StreamId streamId, StreamSequenceToken? token) =>
        Wrap(streamId, inner.TryGetCacheCursor(streamId, token));

    /// <inheritdoc/>
    public QueueCacheCursorResult<IQueueCacheCursor> TryGetCacheCursorAtPosition(StreamId streamId, StreamSubscriptionStartPosition startPosition) =>
        Wrap(streamId, inner.TryGetCacheCursorAtPosition(streamId, startPosition));

    private QueueCacheCursorResult<IQueueCacheCursor> Wrap(StreamId streamId, QueueCacheCursorResult<IQueueCacheCursor> result) =>
        result.Kind == QueueCacheCursorResultKind.Success
            ? QueueCacheCursorResult<IQueueCacheCursor>.FromCursor(new Cursor(this, streamId, result.Cursor!))
            : result;

    /// <summary>The cursor after a refresh missed: a new one of the inner cache at the token the refresh came with.</summary>
    private IQueueCacheCursor Reopen(StreamId streamId, StreamSequenceToken token, QueueCacheMissException miss)
    {
        var reopened = inner.TryGetCacheCursor(streamId, token);
        if (reopened.Kind != QueueCacheCursorResultKind.Success)
        {
            // The token the agent refreshes with is that of a message it has just added, so this does not happen; if
            // it did, the agent's own handling of the original miss is the honest outcome.
            throw miss;
        }
        Interlocked.Increment(ref _recoveries);
        LogRestarted(streamId, miss.Requested, miss.Low, token);
        return reopened.Cursor!;
    }

    [LoggerMessage(EventId = 2211, Level = LogLevel.Warning, Message = "Event stream {StreamId}: its cursor waited for {Requested}, which the queue cache had already dropped (oldest {Low}); it starts again at {Token}, the messages that have just come")]
    private partial void LogRestarted(StreamId streamId, string? requested, string? low, StreamSequenceToken token);

    private sealed class Cursor(RecoveringQueueCache cache, StreamId streamId, IQueueCacheCursor inner) : IQueueCacheCursor
    {
        private IQueueCacheCursor _inner = inner;

        public IBatchContainer? GetCurrent(out Exception? exception) => _inner.GetCurrent(out exception);

        [Obsolete("Use MoveNextWithResult instead.")]
        public bool MoveNext() => _inner.MoveNext();

        public QueueCacheCursorMoveResult MoveNextWithResult() => _inner.MoveNextWithResult();

        public void Refresh(StreamSequenceToken token)
        {
            try
            {
                _inner.Refresh(token);
            }
            catch (QueueCacheMissException miss)
            {
                var reopened = cache.Reopen(streamId, token, miss);
                _inner.Dispose();
                _inner = reopened;
            }
        }

        public void RecordDeliveryFailure() => _inner.RecordDeliveryFailure();

        public void Dispose() => _inner.Dispose();
    }
}
