using System.Globalization;
using Registry.Abstractions;

namespace Registry.LoadTests.Scenarios.AlertSoak;

/// <summary>
/// The heartbeat alerts an alert soak received, per device, and the verdict on them: every silent device announced
/// missed exactly once, every returning one recovered exactly once, no alert for a device that kept beating. A
/// delivery repeated with the same <c>correlation-id</c> is one alert delivered twice (durable event streams deliver at
/// least once, docs: "Lifecycle notifications"), so it is counted apart and not held against the registry; two alerts
/// with different correlation ids are two announcements.
/// </summary>
internal sealed class AlertTally
{
    /// <summary>How many devices a problem line names before "and N more".</summary>
    public const int NamedPerProblem = 10;

    private readonly Lock _gate = new();
    private readonly IReadOnlyList<string> _ids;
    private readonly Dictionary<string, int> _index;
    private readonly int[] _missed;
    private readonly int[] _recovered;
    private readonly HashSet<string> _correlations = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (int Missed, int Recovered)> _unknown = new(StringComparer.Ordinal);
    private readonly List<Waiter> _waiters = [];
    private long _missedAlerts;
    private long _recoveredAlerts;
    private long _redelivered;

    public AlertTally(IReadOnlyList<string> ids)
    {
        _ids = ids;
        _index = new Dictionary<string, int>(ids.Count, StringComparer.Ordinal);
        for (var i = 0; i < ids.Count; i++)
        {
            _index[ids[i]] = i;
        }
        _missed = new int[ids.Count];
        _recovered = new int[ids.Count];
    }

    /// <summary>Records one delivered alert (other op types are ignored); safe from any thread.</summary>
    public void Record(string opType, string deviceId, string? correlationId)
    {
        var missed = opType == RegistryEventTypes.HeartbeatMissed;
        if (!missed && opType != RegistryEventTypes.HeartbeatRecovered)
        {
            return;
        }
        lock (_gate)
        {
            if (correlationId is not null && !_correlations.Add(correlationId))
            {
                _redelivered++;
                return;
            }
            if (missed)
            {
                _missedAlerts++;
            }
            else
            {
                _recoveredAlerts++;
            }
            if (!_index.TryGetValue(deviceId, out var device))
            {
                var (m, r) = _unknown.GetValueOrDefault(deviceId);
                _unknown[deviceId] = missed ? (m + 1, r) : (m, r + 1);
                return;
            }
            var count = missed ? ++_missed[device] : ++_recovered[device];
            if (count == 1)
            {
                foreach (var waiter in _waiters.Where(w => w.Missed == missed))
                {
                    waiter.Seen(device);
                }
                _waiters.RemoveAll(w => w.Done.Task.IsCompleted);
            }
        }
    }

    /// <summary>Completes once every one of <paramref name="devices"/> was announced missed at least once.</summary>
    public Task WhenMissed(IReadOnlyList<int> devices, CancellationToken cancel) => When(missed: true, devices, cancel);

    /// <summary>Completes once every one of <paramref name="devices"/> was announced recovered at least once.</summary>
    public Task WhenRecovered(IReadOnlyList<int> devices, CancellationToken cancel) => When(missed: false, devices, cancel);

    private Task When(bool missed, IReadOnlyList<int> devices, CancellationToken cancel)
    {
        lock (_gate)
        {
            var counts = missed ? _missed : _recovered;
            var waiter = new Waiter(missed, devices.Where(d => counts[d] == 0));
            if (!waiter.Done.Task.IsCompleted)
            {
                _waiters.Add(waiter);
            }
            return waiter.Done.Task.WaitAsync(cancel);
        }
    }

    /// <summary>
    /// The verdict for <paramref name="plan"/>: the counts, and one problem line per kind of wrong alert (each a failure
    /// of the run). <paramref name="describe"/> adds what the harness knows of a device named in a problem (its longest
    /// gap between acknowledged heartbeats). A device the harness itself left unbeaten past the deadline while it was
    /// meant to beat (<paramref name="stalled"/>) was rightly announced: its alerts beyond the plan are not false, they
    /// are the soak failing to hold its load, and are reported as that.
    /// </summary>
    public SoakVerdict Verify(SoakPlan plan, Func<int, string>? describe = null, Func<int, bool>? stalled = null)
    {
        lock (_gate)
        {
            var silent = new bool[_ids.Count];
            var recovering = new bool[_ids.Count];
            foreach (var d in plan.Silent)
            {
                silent[d] = true;
            }
            foreach (var d in plan.Recovering)
            {
                recovering[d] = true;
            }
            var all = Enumerable.Range(0, _ids.Count);
            var neverMissed = plan.Silent.Where(d => _missed[d] == 0).ToList();
            var neverRecovered = plan.Recovering.Where(d => _recovered[d] == 0).ToList();
            bool Beyond(int d) => _missed[d] > (silent[d] ? 1 : 0) || _recovered[d] > (recovering[d] ? 1 : 0);
            var stalledBeyond = all.Where(d => stalled?.Invoke(d) == true && Beyond(d)).ToList();
            var owned = stalledBeyond.ToHashSet();
            var missedTwice = plan.Silent.Where(d => _missed[d] > 1 && !owned.Contains(d)).ToList();
            var recoveredTwice = plan.Recovering.Where(d => _recovered[d] > 1 && !owned.Contains(d)).ToList();
            var falseMissed = all.Where(d => !silent[d] && _missed[d] > 0 && !owned.Contains(d)).ToList();
            var falseRecovered = all.Where(d => !recovering[d] && _recovered[d] > 0 && !owned.Contains(d)).ToList();

            var problems = new List<string>();
            void Problem(List<int> devices, string what, Func<int, string> count)
            {
                if (devices.Count == 0)
                {
                    return;
                }
                var named = devices.Take(NamedPerProblem).Select(d =>
                {
                    var more = describe?.Invoke(d);
                    return $"{_ids[d]} ({count(d)}{(string.IsNullOrEmpty(more) ? "" : "; " + more)})";
                });
                problems.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{devices.Count:N0} {what}: {string.Join(", ", named)}{(devices.Count > NamedPerProblem ? $", and {devices.Count - NamedPerProblem:N0} more" : "")}"));
            }
            string Missed(int d) => $"missed ×{_missed[d]}";
            string Recovered(int d) => $"recovered ×{_recovered[d]}";
            Problem(neverMissed, $"of {plan.Silent.Count:N0} silent devices never announced missed", Missed);
            Problem(missedTwice, "silent devices announced missed more than once", Missed);
            Problem(neverRecovered, $"of {plan.Recovering.Count:N0} returning devices never announced recovered", Recovered);
            Problem(recoveredTwice, "returning devices announced recovered more than once", Recovered);
            Problem(falseMissed, "devices that kept beating announced missed (false alerts)", Missed);
            Problem(falseRecovered, "devices announced recovered that did not return (false alerts)", d => $"{Missed(d)}, {Recovered(d)}");
            Problem(stalledBeyond, "devices got alerts beyond the plan after the harness's own heartbeats to them stalled past the deadline (rightly announced: the soak did not keep them beating, so it proves nothing for them)",
                d => $"{Missed(d)}, {Recovered(d)}");
            if (_unknown.Count > 0)
            {
                problems.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{_unknown.Count:N0} alerted devices are not the soak's: {string.Join(", ", _unknown.Keys.Order(StringComparer.Ordinal).Take(NamedPerProblem))}"));
            }
            return new SoakVerdict(plan.Silent.Count, plan.Recovering.Count, _missedAlerts, _recoveredAlerts, _redelivered,
                plan.Silent.Count(d => _missed[d] == 1), neverMissed.Count, missedTwice.Count,
                plan.Recovering.Count(d => _recovered[d] == 1), neverRecovered.Count, recoveredTwice.Count,
                falseMissed.Count, falseRecovered.Count, _unknown.Count, stalledBeyond.Count, problems);
        }
    }

    /// <summary>Waits for the first alert of each device of a set.</summary>
    private sealed class Waiter
    {
        private readonly HashSet<int> _remaining;

        public Waiter(bool missed, IEnumerable<int> remaining)
        {
            Missed = missed;
            _remaining = [.. remaining];
            if (_remaining.Count == 0)
            {
                Done.TrySetResult();
            }
        }

        public bool Missed { get; }

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Seen(int device)
        {
            if (_remaining.Remove(device) && _remaining.Count == 0)
            {
                Done.TrySetResult();
            }
        }
    }
}

/// <summary>What an alert soak's report prints: the alerts received against the plan, and what was wrong with them.</summary>
internal sealed record SoakVerdict(
    int Silent, int Recovering, long MissedAlerts, long RecoveredAlerts, long Redelivered,
    int SilentAnnouncedOnce, int SilentNeverAnnounced, int SilentAnnouncedMoreThanOnce,
    int RecoveringRecoveredOnce, int RecoveringNeverRecovered, int RecoveringRecoveredMoreThanOnce,
    int FalseMissed, int FalseRecovered, int UnknownDevices, int StalledWithAlerts, IReadOnlyList<string> Problems)
{
    /// <summary>The counts, one line each, for the report's notes.</summary>
    public IReadOnlyList<string> Lines() =>
    [
        string.Create(CultureInfo.InvariantCulture, $"alerts received: {MissedAlerts:N0} heartbeatMissed, {RecoveredAlerts:N0} heartbeatRecovered (distinct correlation ids; {Redelivered:N0} repeated deliveries set aside)"),
        string.Create(CultureInfo.InvariantCulture, $"silent devices: {Silent:N0}; announced missed exactly once {SilentAnnouncedOnce:N0}, never {SilentNeverAnnounced:N0}, more than once {SilentAnnouncedMoreThanOnce:N0}"),
        string.Create(CultureInfo.InvariantCulture, $"returning devices: {Recovering:N0}; announced recovered exactly once {RecoveringRecoveredOnce:N0}, never {RecoveringNeverRecovered:N0}, more than once {RecoveringRecoveredMoreThanOnce:N0}"),
        string.Create(CultureInfo.InvariantCulture, $"false alerts: {FalseMissed:N0} devices that kept beating announced missed, {FalseRecovered:N0} announced recovered without returning, {UnknownDevices:N0} devices not in the soak"),
        string.Create(CultureInfo.InvariantCulture, $"devices the harness left unbeaten past the deadline that got alerts beyond the plan: {StalledWithAlerts:N0}"),
    ];
}
