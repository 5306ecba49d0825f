using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Registry.Abstractions;

namespace Registry.Grains.Devices;

/// <summary>A device grain whose presence changed since it was last written; read by the writer off the grain's turn.</summary>
internal interface IPresenceSource
{
    string DeviceId { get; }

    /// <summary>Clears the dirty mark and returns the values to write, or null when there is nothing to persist.</summary>
    PresenceRecord? TakeSnapshot();
}

/// <summary>
/// A device activation's place in the writer's queue. It holds the activation only while that is active: one deactivated
/// (idle, moved) has written its presence itself and lets go, so the queue does not keep it, and every activation the
/// device went through before the next flush, alive until then (a minute by default, an hour at the most).
/// </summary>
internal sealed class PresenceMark(IPresenceSource source)
{
    private IPresenceSource? _source = source;

    public string DeviceId { get; } = source.DeviceId;

    public IPresenceSource? Source => Volatile.Read(ref _source);

    public void Release() => Volatile.Write(ref _source, null);
}

/// <summary>
/// The silo's write-behind for device presence (DESIGN.md "Heartbeats at scale"): a heartbeat only marks its device
/// dirty (once until the next write, so the hot path is a flag test); every <see cref="PresenceOptions.PersistInterval"/>
/// the dirty devices are written grouped by index partition, in batches the store can write as one request
/// (<see cref="MaxBatch"/>). So a device costs at most one row write per interval however often it beats, and
/// storage requests per interval are about active devices / 100. A clean stop writes what is left. Staleness after a
/// crash: at most one interval plus the time of a write.
/// </summary>
public sealed partial class PresenceWriter : SiloLoop
{
    /// <summary>An Azure Table entity-group transaction holds at most 100 operations.</summary>
    public const int MaxBatch = 100;

    private static readonly TimeSpan FinalFlushTimeout = TimeSpan.FromSeconds(5);

    private readonly IPresenceStore _store;
    private readonly TimeProvider _clock;
    private readonly int _partitions;
    private readonly TimeSpan _interval;
    private readonly ILogger<PresenceWriter> _logger;
    private readonly IClusterMembershipService _membership;
    private readonly ILocalSiloDetails _silo;
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _writing = new(1, 1);
    private List<PresenceMark> _dirty = [];
    // The list the last flush drained, kept with its capacity: at 1M active devices each list is an 8 MB array, and a
    // new one a minute (grown by doubling) is large-object garbage that brings on full collections.
    private List<PresenceMark> _spare = [];
    // The dirty devices of a flush by index partition; the lists keep their capacity from one flush to the next.
    private List<PresenceMark>?[]? _byPartition;

    public PresenceWriter(IPresenceStore store, [FromKeyedServices(RegistryClock.Key)] TimeProvider clock, IOptions<RegistryIndexOptions> index,
        IOptions<PresenceOptions> options, IClusterMembershipService membership, ILocalSiloDetails silo, ILogger<PresenceWriter> logger)
        : base(ServiceLifecycleStage.ApplicationServices)
    {
        _store = store;
        _membership = membership;
        _silo = silo;
        _clock = clock;
        _partitions = index.Value.Partitions;
        _interval = options.Value.PersistInterval;
        _logger = logger;
    }

    /// <summary>Rows written since the silo started (for measurements).</summary>
    public long RecordsWritten { get; private set; }

    /// <summary>Store requests made since the silo started (for measurements).</summary>
    public long Writes { get; private set; }

    /// <summary>Device activations the writer's queue keeps alive now (for tests and measurements).</summary>
    public int HeldActivations
    {
        get
        {
            lock (_lock)
            {
                return _dirty.Count(mark => mark.Source is not null);
            }
        }
    }

    internal void MarkDirty(PresenceMark mark)
    {
        lock (_lock)
        {
            _dirty.Add(mark);
        }
    }

    /// <summary>
    /// Writes every dirty device now, in partition batches (also what the timer and a clean stop do). Each batch's
    /// records are taken just before it is written, so they die young: taking all of them first kept a million
    /// records alive through the whole flush, long enough to be promoted and collected by full collections.
    /// </summary>
    public async Task FlushAsync()
    {
        await _writing.WaitAsync();
        List<PresenceMark> dirty;
        lock (_lock)
        {
            (dirty, _dirty, _spare) = (_dirty, _spare, []);
        }
        try
        {
            _byPartition ??= new List<PresenceMark>?[_partitions];
            foreach (var mark in dirty)
            {
                if (mark.Source is not null)
                {
                    (_byPartition[DevicePartitioner.PartitionOf(mark.DeviceId, _partitions)] ??= []).Add(mark);
                }
            }
            var batch = new List<PresenceRecord>(MaxBatch);
            for (var partition = 0; partition < _partitions; partition++)
            {
                if (_byPartition[partition] is not { Count: > 0 } sources)
                {
                    continue;
                }
                foreach (var mark in sources)
                {
                    if (mark.Source?.TakeSnapshot() is { } record)
                    {
                        batch.Add(record);
                    }
                    if (batch.Count == MaxBatch)
                    {
                        await WriteBatch(partition, batch);
                    }
                }
                sources.Clear();
                if (batch.Count > 0)
                {
                    await WriteBatch(partition, batch);
                }
            }
        }
        finally
        {
            // A device still listed by partition after a throw is still marked dirty, so the next flush writes it.
            dirty.Clear();
            lock (_lock)
            {
                _spare = dirty;
            }
            _writing.Release();
        }
    }

    /// <summary>Writes <paramref name="batch"/> (a copy: the store may keep what it is given) and empties it.</summary>
    private async Task WriteBatch(int partition, List<PresenceRecord> batch)
    {
        var records = batch.ToArray();
        batch.Clear();
        try
        {
            await _store.Write(partition, records);
            Writes++;
            RecordsWritten += records.Length;
        }
        catch (Exception e)
        {
            // Presence is best effort between writes: the next heartbeat marks the device again. Never fail the loop.
            LogWriteFailed(_logger, e, records.Length, partition);
        }
    }

    protected override async Task Run(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_interval, _clock, stopping);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            await FlushAsync();
        }
    }

    /// <summary>After the grains deactivated (a later stage stops first): what they left dirty is written once more.</summary>
    protected override async Task Stopped(CancellationToken cancellationToken)
    {
        if (Disposed)
        {
            // The host abandoned its stop and disposed the services the store writes through: nothing can be written.
            LogStopAfterDispose(_logger);
            return;
        }
        if (_store.LivesInTheSilos && !AnotherSiloIsActive())
        {
            // The embedded mode's last silo: its store's grains go with it, and a write would only fail to place them.
            LogNothingOutlivesTheStop(_logger);
            return;
        }
        // Bounded in real time whatever the registry's clock: a store that does not answer never holds the stop.
        await FlushAsync().WaitAsync(FinalFlushTimeout, TimeProvider.System, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private bool AnotherSiloIsActive() =>
        _membership.CurrentSnapshot.Members.Values.Any(m => m.Status == SiloStatus.Active && !m.SiloAddress.Equals(_silo.SiloAddress));

    [LoggerMessage(EventId = 2124, Level = LogLevel.Warning, Message = "Presence is not written at this stop: the host abandoned the stop and disposed the services it writes through; devices' last heartbeats since the last write are lost")]
    private static partial void LogStopAfterDispose(ILogger logger);

    [LoggerMessage(EventId = 2123, Level = LogLevel.Debug, Message = "Presence is not written at this stop: the in-memory store lives in the silos, and no other silo is active")]
    private static partial void LogNothingOutlivesTheStop(ILogger logger);

    [LoggerMessage(EventId = 2120, Level = LogLevel.Warning, Message = "Could not write the presence of {Count} devices of partition {Partition}; they are written again when they next beat")]
    private static partial void LogWriteFailed(ILogger logger, Exception exception, int count, int partition);
}
