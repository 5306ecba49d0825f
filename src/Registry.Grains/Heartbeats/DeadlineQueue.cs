using Registry.Abstractions;

namespace Registry.Grains.Heartbeats;

/// <summary>
/// A monitor partition's watched devices and their deadlines in memory: a map for the state of each device and a
/// priority queue ordered by deadline, so the partition's one timer is armed for the earliest deadline and a check
/// touches only the devices that are due. A rescheduled device leaves its old queue item behind, skipped when met
/// (an item counts only when it matches the device's current deadline). Policies are shared, not copied per device.
/// </summary>
internal sealed class DeadlineQueue
{
    private readonly Dictionary<string, Watched> _devices = new(StringComparer.Ordinal);
    private readonly PriorityQueue<string, DateTime> _queue = new();
    private readonly Dictionary<HeartbeatPolicy, HeartbeatPolicy> _policies = new();

    public int Count => _devices.Count;

    public bool TryGet(string deviceId, out Watched watched) => _devices.TryGetValue(deviceId, out watched!);

    public IEnumerable<Watched> All => _devices.Values;

    /// <summary>Adds or updates a device; its next deadline is <paramref name="deadline"/>.</summary>
    public Watched Set(string deviceId, HeartbeatPolicy policy, DateTime deadline, DateTime? outageSince)
    {
        var shared = Share(policy);
        if (!_devices.TryGetValue(deviceId, out var watched))
        {
            _devices[deviceId] = watched = new Watched(deviceId);
        }
        watched.Policy = shared;
        watched.OutageSince = outageSince;
        Reschedule(watched, deadline);
        return watched;
    }

    /// <summary>The one instance of an equal policy this partition holds: thousands of devices share a few policies.</summary>
    public HeartbeatPolicy Share(HeartbeatPolicy policy)
    {
        if (!_policies.TryGetValue(policy, out var shared))
        {
            _policies[policy] = shared = policy;
        }
        return shared;
    }

    public void Reschedule(Watched watched, DateTime deadline)
    {
        watched.Deadline = deadline;
        _queue.Enqueue(watched.DeviceId, deadline);
    }

    public bool Remove(string deviceId) => _devices.Remove(deviceId);

    /// <summary>The earliest deadline still current, or null when nothing is watched.</summary>
    public DateTime? Earliest()
    {
        while (_queue.TryPeek(out var id, out var at))
        {
            if (_devices.TryGetValue(id, out var watched) && watched.Deadline == at)
            {
                return at;
            }
            _queue.Dequeue();
        }
        return null;
    }

    /// <summary>Takes the devices whose deadline is at or before <paramref name="now"/>; each is then the caller's to reschedule.</summary>
    public List<Watched> TakeDue(DateTime now)
    {
        var due = new List<Watched>();
        while (_queue.TryPeek(out var id, out var at) && at <= now)
        {
            _queue.Dequeue();
            if (_devices.TryGetValue(id, out var watched) && watched.Deadline == at)
            {
                // Until rescheduled, no queue item matches it: a second check cannot take it too.
                watched.Deadline = DateTime.MaxValue;
                due.Add(watched);
            }
        }
        return due;
    }
}

/// <summary>One watched device in memory.</summary>
internal sealed class Watched(string deviceId)
{
    public string DeviceId { get; } = deviceId;
    public HeartbeatPolicy Policy { get; set; } = null!;
    public DateTime Deadline { get; set; }
    public DateTime? OutageSince { get; set; }

    /// <summary>Asked while a check of it was in flight to ask it again: its answer may predate the change.</summary>
    public bool AskAgain { get; set; }

    public MonitoredDevice Stored => new(DeviceId, Policy, OutageSince);
}
