using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Providers.Streams.Common;
using Orleans.Streams;
using Registry.Host;

namespace Registry.Tests.Events;

/// <summary>
/// The durable event stream's queue cache (Orleans' own <see cref="SimpleQueueCache"/> inside) lets a cursor that
/// waits for a token the cache has dropped start again, where Orleans' cursor throws out of the pulling agent's read
/// loop on every read and stops every stream of the queue (README Known limits, review of 2026-12-07).
/// </summary>
public sealed class RecoveringQueueCacheTests
{
    private static readonly StreamId Waiting = StreamId.Create("registry", Guid.NewGuid());
    private static readonly StreamId Other = StreamId.Create("registry", Guid.NewGuid());

    /// <summary>
    /// The sequence the agent runs after a restart: a consumer's cursor waits for a token past the cache's newest; the
    /// queue's other streams' messages past it come and are purged (the waiting cursor pins nothing); then a message
    /// of its own stream comes and the agent refreshes the cursor with that message's token.
    /// </summary>
    [Fact]
    public void A_cursor_waiting_for_a_token_the_cache_dropped_starts_again_at_the_message_that_came()
    {
        var cache = NewCache();
        cache.AddToCache([Batch(Other, 100)]);
        using var waiting = cache.TryGetCacheCursor(Waiting, Token(101)).Cursor!;
        cache.AddToCache([.. Enumerable.Range(101, 10).Select(n => Batch(Other, n))]);
        using var reader = cache.TryGetCacheCursor(Other, Token(110)).Cursor!;
        Assert.True(cache.TryPurgeFromCache(out var purged));
        Assert.Equal(Enumerable.Range(100, 10).Select(n => (long)n), purged.Select(SequenceNumber));
        var own = Batch(Waiting, 111);
        cache.AddToCache([own]);

        waiting.Refresh(own.SequenceToken);

        Assert.Equal(QueueCacheCursorMoveResultKind.Success, waiting.MoveNextWithResult().Kind);
        Assert.Same(own, waiting.GetCurrent(out _));
        Assert.Equal(QueueCacheCursorMoveResultKind.NoData, waiting.MoveNextWithResult().Kind);
        Assert.Equal(1, cache.Recoveries);
        // The other stream's reader is where it was.
        Assert.Equal(QueueCacheCursorMoveResultKind.Success, reader.MoveNextWithResult().Kind);
        Assert.Equal(110, SequenceNumber(reader.GetCurrent(out _)!));
    }

    [Fact]
    public void A_cursor_whose_token_is_still_cached_is_refreshed_as_orleans_does_without_starting_again()
    {
        var cache = NewCache();
        cache.AddToCache([Batch(Other, 100)]);
        using var waiting = cache.TryGetCacheCursor(Waiting, Token(101)).Cursor!;
        var first = Batch(Waiting, 101);
        var second = Batch(Waiting, 102);
        cache.AddToCache([first, Batch(Other, 102), second]);

        waiting.Refresh(first.SequenceToken);

        Assert.Equal(QueueCacheCursorMoveResultKind.Success, waiting.MoveNextWithResult().Kind);
        Assert.Same(first, waiting.GetCurrent(out _));
        Assert.Equal(QueueCacheCursorMoveResultKind.Success, waiting.MoveNextWithResult().Kind);
        Assert.Same(second, waiting.GetCurrent(out _));
        Assert.Equal(0, cache.Recoveries);
    }

    /// <summary>Cache size 100: Orleans' cache keeps its messages in buckets of 10, each purged whole once no cursor is in it.</summary>
    private static RecoveringQueueCache NewCache() =>
        new(new SimpleQueueCache(100, NullLogger.Instance), NullLogger<RecoveringQueueCache>.Instance);

    private static EventSequenceTokenV2 Token(long n) => new(n);

    private static long SequenceNumber(IBatchContainer batch) => ((EventSequenceTokenV2)batch.SequenceToken).SequenceNumber;

    private static TestBatch Batch(StreamId stream, long n) => new(stream, Token(n));

    private sealed record TestBatch(StreamId StreamId, StreamSequenceToken SequenceToken) : IBatchContainer
    {
        public IEnumerable<Tuple<T, StreamSequenceToken>> GetEvents<T>() => [];

        public bool ImportRequestContext() => false;
    }
}
