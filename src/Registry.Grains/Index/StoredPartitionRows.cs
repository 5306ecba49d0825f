using Registry.Abstractions;
using Registry.Grains.Devices;

namespace Registry.Grains.Index;

/// <summary>
/// What device storage holds for an index partition, read by a range scan of its storage group
/// (<see cref="IDevicePartitionScan"/>, the batched device rows), for the partition's verification pass: the pass then
/// asks only the devices whose entries storage disagrees with (no row: a phantom, or a create whose row is not written
/// yet; another status), instead of activating every device of the partition and reading its row one at a time. After a
/// restart of a durable registry of a million devices that was a million activations and point reads before statistics
/// were exact (README Known limits until 2026-12-06).
/// <para>
/// Partitions of one storage group verifying at the same time (a restart loads them together) share one scan, but only a
/// scan that started after the partition began loading its entries: one started earlier could confirm an entry whose
/// device was deleted in between. A scan takes one of the silo's <see cref="IndexVerificationSlots"/>, as a device check
/// does, so requests keep what the checks leave them.
/// </para>
/// </summary>
public sealed class StoredPartitionRows
{
    /// <summary>How long a group's scan may take before the partitions waiting for it check their devices one by one instead.</summary>
    public static readonly TimeSpan ScanTimeout = TimeSpan.FromMinutes(2);

    private static readonly IReadOnlyDictionary<string, bool> None = new Dictionary<string, bool>(StringComparer.Ordinal);

    private readonly Lock _lock = new();
    private readonly Dictionary<int, GroupScan> _inFlight = [];
    private readonly IDevicePartitionScan _scan;
    private readonly IndexVerificationSlots _slots;
    private readonly IReadOnlyList<IReadOnlyList<int>> _groups;
    private readonly int[] _groupOf;
    private long _sequence;
    private long _scans;

    public StoredPartitionRows(IDevicePartitionScan scan, int partitions, IndexVerificationSlots slots)
    {
        _scan = scan;
        _slots = slots;
        _groups = scan.Groups(partitions);
        _groupOf = new int[partitions];
        for (var g = 0; g < _groups.Count; g++)
        {
            foreach (var partition in _groups[g])
            {
                _groupOf[partition] = g;
            }
        }
    }

    /// <summary>Group scans started (each serving every partition of its group that waited for it).</summary>
    public long Scans => Interlocked.Read(ref _scans);

    /// <summary>A point in this silo's order of scans: taken by a partition before it loads its entries.</summary>
    public long Mark() => Interlocked.Increment(ref _sequence);

    /// <summary>
    /// Each device stored in <paramref name="partition"/>, with whether it is enabled, as a scan started after
    /// <paramref name="loadStarted"/> (a <see cref="Mark"/>) read them. Throws when storage could not be scanned.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, bool>> Of(int partition, long loadStarted)
    {
        var group = _groupOf[partition];
        Task<Dictionary<int, Dictionary<string, bool>>> rows;
        lock (_lock)
        {
            if (!_inFlight.TryGetValue(group, out var shared) || shared.Started < loadStarted)
            {
                shared = new GroupScan(Mark());
                _inFlight[group] = shared;
                // Off the calling partition's scheduler: reading a group's rows serves every partition of it.
                shared.Rows = Task.Run(() => Run(group, shared));
            }
            rows = shared.Rows!;
        }
        return (await rows).TryGetValue(partition, out var mine) ? mine : None;
    }

    private async Task<Dictionary<int, Dictionary<string, bool>>> Run(int group, GroupScan self)
    {
        try
        {
            return await _slots.Run(async () =>
            {
                Interlocked.Increment(ref _scans);
                using var timeout = new CancellationTokenSource(ScanTimeout);
                var rows = new Dictionary<int, Dictionary<string, bool>>();
                await foreach (var (partition, device) in _scan.ScanGroup(_groups[group], timeout.Token))
                {
                    if (!rows.TryGetValue(partition, out var stored))
                    {
                        rows[partition] = stored = new Dictionary<string, bool>(StringComparer.Ordinal);
                    }
                    stored[device.DeviceId] = device.Status == DeviceStatus.Enabled;
                }
                return rows;
            });
        }
        finally
        {
            lock (_lock)
            {
                if (_inFlight.TryGetValue(group, out var current) && current == self)
                {
                    _inFlight.Remove(group);
                }
            }
        }
    }

    private sealed class GroupScan(long started)
    {
        public long Started { get; } = started;

        public Task<Dictionary<int, Dictionary<string, bool>>>? Rows { get; set; }
    }
}
