using System.Diagnostics;
using System.Globalization;
using Registry.Abstractions;
using Registry.Client;
using Registry.LoadTests.Harness;
using Registry.LoadTests.Scenarios.AlertSoak;

namespace Registry.LoadTests.Scenarios;

/// <summary>
/// <c>alert-soak</c>: heartbeat monitoring on for every device, all beating through <c>IHeartbeatBatchGrain</c>; a
/// seeded random set goes silent and a seeded subset of it comes back. The alerts are read as a client app reads them,
/// from the registry's <c>heartbeatEvents</c> stream, and the verdict demands each silent device announced missed once,
/// each returning one recovered once, and nothing for a device that kept beating. The phases are steps: <c>beat</c>
/// (everyone, <c>--duration</c>), <c>silence</c> (until every silent device was announced), <c>recover</c> (until every
/// returning one was), <c>quiet</c> (a full deadline more, for late or repeated alerts); each is bounded, so the run
/// ends by itself. With <c>--kill-silo-at D</c> the registry is a durable two-silo cluster of processes and one silo
/// is killed (<c>kill -9</c>) D after the soak began: the verdict is the same (docs/invariants.md §11).
/// </summary>
internal sealed class AlertSoakScenario : IScenario
{
    /// <summary>The least time a failed beat is retried while a killed silo's grains move (a device keeps trying, too).</summary>
    private static readonly TimeSpan MinRetryWindow = TimeSpan.FromSeconds(60);

    /// <summary>What a failover may take before the survivors serve again and restart the deadlines (detection included).</summary>
    private static readonly TimeSpan FailoverAllowance = TimeSpan.FromSeconds(90);

    private readonly int _devices;
    private readonly int _interval;
    private readonly int _grace;
    private readonly TimeSpan _beatEvery;
    private readonly int _batch;
    private readonly int _seed;
    private readonly string _silentShare;
    private readonly string _recoverShare;
    private readonly TimeSpan _alertTimeout;
    private readonly TimeSpan? _killAt;
    private readonly bool _twoSilos;
    private readonly List<string> _notes = [];
    private readonly Stopwatch _clock = new();
    private string[] _ids = [];
    private SoakPlan? _plan;
    private AlertTally? _tally;
    private RegistryTarget? _target;
    private SoakCluster? _cluster;
    private RegistryEventSubscription? _subscription;
    private Action<string> _log = _ => { };
    private volatile int[] _beating = [];
    private long _cursor;
    private int _started;
    private long _retried;
    private double[] _lastAck = [];
    private double[] _longestGap = [];
    private bool[] _beatBeforeSilence = [];
    private Task _kill = Task.CompletedTask;
    private double? _killedAt;
    private readonly TaskCompletionSource _killed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _disposing = new();

    public AlertSoakScenario(Arguments args)
    {
        _devices = args.Int("--devices", 100_000, min: 1, max: ScenarioLimits.MaxDevices);
        var interval = args.Duration("--interval", TimeSpan.FromSeconds(60));
        var grace = args.Duration("--grace", TimeSpan.FromSeconds(30));
        _batch = args.Int("--batch", 100, min: 1);
        _seed = args.Int("--seed", 1);
        _silentShare = args.String("--silent") ?? "1%";
        _recoverShare = args.String("--recover") ?? "50%";
        _killAt = args.String("--kill-silo-at") is null ? null : args.Duration("--kill-silo-at", TimeSpan.Zero, positive: true);
        _twoSilos = args.Flag("--two-silos") || _killAt is not null;
        if (interval.TotalSeconds % 1 != 0 || interval.TotalSeconds is < HeartbeatPolicy.MinIntervalSeconds or > HeartbeatPolicy.MaxSeconds
            || grace.TotalSeconds % 1 != 0 || grace.TotalSeconds is < 0 or > HeartbeatPolicy.MaxSeconds)
        {
            throw new ArgumentException($"--interval is whole seconds from {HeartbeatPolicy.MinIntervalSeconds}s to {HeartbeatPolicy.MaxSeconds}s, --grace whole seconds from 0s (the registry's policy bounds).");
        }
        _interval = (int)interval.TotalSeconds;
        _grace = (int)grace.TotalSeconds;
        _beatEvery = args.Duration("--beat-every", interval / 2);
        _alertTimeout = args.Duration("--alert-timeout", TimeSpan.FromSeconds(Math.Max(60, _interval + _grace)));
        if (_beatEvery <= TimeSpan.Zero || _beatEvery >= Deadline)
        {
            throw new ArgumentException("--beat-every must be above 0 and below --interval plus --grace, or every device would be missed.");
        }
        if (_batch > RegistryLimits.MaxHeartbeatBatch)
        {
            throw new ArgumentException($"--batch 1..{RegistryLimits.MaxHeartbeatBatch}.");
        }
        if (args.Int("--rounds", 1) != 1)
        {
            throw new ArgumentException("alert-soak runs one round: its devices go silent once.");
        }
        if (args.String("--model") is not null)
        {
            throw new ArgumentException("alert-soak sets its own load (every device once per --beat-every): --model does not apply.");
        }
        // Its phases bound themselves: these were taken and ignored (a hostile review, 2026-12-04: --count 10 bounded
        // nothing, and a --warmup 1s report said "with no warm-up").
        foreach (var bound in new[] { "--warmup", "--count", "--drain", "--ceiling-duration" })
        {
            if (args.String(bound) is not null)
            {
                throw new ArgumentException($"alert-soak's phases bound themselves (--duration is its beat phase, the others last until their alerts arrive, bounded by --alert-timeout): {bound} does not apply.");
            }
        }
        if (args.Flag("--no-ceiling"))
        {
            throw new ArgumentException("alert-soak measures no ceiling (its result is the verdict): --no-ceiling does not apply.");
        }
        // Validated now, so a wrong share fails before anything starts.
        var silent = SoakPlan.Share(_silentShare, _devices, "--silent");
        SoakPlan.Share(_recoverShare, silent, "--recover");
    }

    /// <summary>
    /// How <paramref name="beating"/> devices are beaten in each beat period: as few calls as <paramref name="batch"/>
    /// allows, of equal size, so every device beats once a period. With the configured batch as the call size, 20
    /// devices and a batch of 100 made one call of 20 ids every 10 s where the period was 2 s (the rate is in items,
    /// counted as a full batch a call), and the soak announced its own stalls as false alerts; 150 devices beat every
    /// 40 s instead of 30. A round then counts <c>PerCall × CallsPerRound</c> heartbeats, at most
    /// <c>CallsPerRound - 1</c> more than it sends.
    /// </summary>
    internal static (int PerCall, int CallsPerRound) Cadence(int beating, int batch)
    {
        if (beating <= 0)
        {
            return (1, 1);
        }
        var calls = (beating + batch - 1) / batch;
        return ((beating + calls - 1) / calls, calls);
    }

    /// <summary>
    /// The order a phase beats its devices in, one cycle a beat period: the longest since its last acknowledged beat
    /// first (one never acknowledged, or returning from its silence, before all). Each phase kept the order of its own
    /// device list and went on from the last phase's place in the cycle, so a device beaten early in one phase's cycle
    /// could come late in the next's: its gap reached about 1.8 beat periods at the change (a hostile review, 2026-12-04:
    /// 500 devices announced missed with <c>--interval 1s --grace 1s --beat-every 1200ms</c>, the soak's own stall).
    /// Oldest first, a device waits about one period across the change, as within a phase.
    /// </summary>
    internal static int[] BeatOrder(int[] beating, double[] lastAck) =>
        [.. beating.OrderBy(d => lastAck[d]).ThenBy(d => d)];

    /// <summary>
    /// How long a failed beat is retried in the kill mode: until that device's next beat is due (a device sends its next
    /// heartbeat then, rather than the old one again), and at least a minute. A beat still unanswered then is a failure of
    /// the run. A fixed minute counted 6 beat calls of a 100k soak at a 300 s interval as failed (the survivor took about
    /// two minutes to reactivate the killed silo's 50,000 devices on one Azurite) although each device's next beat was two
    /// and a half minutes away.
    /// </summary>
    internal static TimeSpan RetryWindowFor(TimeSpan beatEvery) => beatEvery > MinRetryWindow ? beatEvery : MinRetryWindow;

    /// <summary>
    /// How long a phase's calls still in flight at its end get to answer. With a kill, a call may be retrying through
    /// the failover: it gets its whole retry window and a last attempt's minute, and then ends by itself, answered or
    /// failed. A fixed 30 s counted 392 beat calls of a 100k soak, still retrying when the beat phase ended mid-failover,
    /// as unanswered ("no answer before the drain ended"), where each would have ended within its window.
    /// </summary>
    internal static TimeSpan PhaseDrain(bool kill, TimeSpan beatEvery) =>
        kill ? RetryWindowFor(beatEvery) + TimeSpan.FromMinutes(1) : TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long one beat call may go unanswered in the kill mode before it is given up and sent again: Orleans' default
    /// response timeout, what a client app has. The harness's own client waits 5 minutes (for its fills), and two beat
    /// calls of a 100k soak, sent as the silo died, waited all of it and failed, past their retry window.
    /// </summary>
    internal static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Runs <paramref name="attempt"/>, each try bounded by <paramref name="attemptTimeout"/>; a try that fails or times
    /// out is made again after <paramref name="backOff"/> while <paramref name="mayRetry"/> says so.
    /// </summary>
    internal static async Task<T> RetryAsync<T>(Func<Task<T>> attempt, TimeSpan attemptTimeout, Func<bool> mayRetry, Action retried,
        TimeSpan backOff, TimeProvider time, CancellationToken cancel)
    {
        while (true)
        {
            try
            {
                return await attempt().WaitAsync(attemptTimeout, time, cancel);
            }
            catch (Exception) when (!cancel.IsCancellationRequested && mayRetry())
            {
                retried();
                await Task.Delay(backOff, time, cancel);
            }
        }
    }

    /// <summary>Interval plus grace: how long a device may be silent before it is missed.</summary>
    private TimeSpan Deadline => TimeSpan.FromSeconds(_interval + _grace);

    public LoadModel DefaultModel => Rate(_devices);

    /// <summary>Heartbeats a second that beat <paramref name="beating"/> devices once per beat period (<see cref="Cadence"/>).</summary>
    private LoadModel Rate(int beating)
    {
        var (perCall, calls) = Cadence(beating, _batch);
        return LoadModel.Open(calls * perCall / _beatEvery.TotalSeconds);
    }

    public IReadOnlyList<string> Notes => _notes;

    public async Task<IReadOnlyList<Step>> PrepareAsync(ScenarioContext context, CancellationToken cancel)
    {
        _log = context.Log;
        var silent = SoakPlan.Share(_silentShare, _devices, "--silent");
        _plan = SoakPlan.Draw(_devices, _seed, silent, SoakPlan.Share(_recoverShare, silent, "--recover"));
        _ids = [.. Enumerable.Range(0, _devices).Select(i => string.Create(CultureInfo.InvariantCulture, $"soak-{i:D7}"))];
        _tally = new AlertTally(_ids);
        _lastAck = new double[_devices];
        _longestGap = new double[_devices];
        _beatBeforeSilence = new bool[_devices];

        var settings = new Dictionary<string, string>
        {
            ["Registry:Heartbeat:IntervalSeconds"] = _interval.ToString(CultureInfo.InvariantCulture),
            ["Registry:Heartbeat:GraceSeconds"] = _grace.ToString(CultureInfo.InvariantCulture),
            ["Registry:Routes:0:Name"] = "alerts",
            ["Registry:Routes:0:Source"] = "HeartbeatEvents",
        };
        if (_twoSilos)
        {
            // The soak is about alerts, not storage latency: on a saturated machine Azurite can take longer than the
            // default 5 s to acknowledge a bulk create of the fill, which then answers 503 and ends the run (seen once).
            _cluster = await SoakCluster.StartAsync(2, new Dictionary<string, string>(settings) { ["Registry:StorageTimeoutSeconds"] = "30" }, context.Log, cancel);
            _target = await RegistryTarget.ConnectClientAsync(_cluster.ClientOptions,
                $"durable cluster of two silo processes (Registry:Role=silo, StorageTimeoutSeconds 30) on an Azurite of its own; client app through Registry.Client (membership table, Azure Queue event stream); silo logs in {_cluster.Work}", cancel);
        }
        else
        {
            _target = await RegistryTarget.StartInProcessAsync(0, mqtt: false, cancel, settings, events: true);
        }
        _notes.Add("target: " + _target.Description);
        _notes.Add(string.Create(CultureInfo.InvariantCulture,
            $"policy: the registry default, interval {_interval} s + grace {_grace} s; each device beats once per {_beatEvery.TotalSeconds:0.###} s through IHeartbeatBatchGrain ({_batch} ids a call)"));

        // Subscribed before any device beats: a stream delivers only what is raised while one listens.
        var tally = _tally;
        _subscription = await RegistryEventSubscription.SubscribeAsync(_target.Grains, RegistryEventSources.HeartbeatAlerts, e =>
        {
            tally.Record(e.OpType, e.DeviceId, e.SystemProperties.GetValueOrDefault("correlation-id"));
            return Task.CompletedTask;
        });
        _notes.Add("alerts read from the registry's heartbeatEvents stream (the Orleans stream a client app subscribes to, README \"Lifecycle notifications\"), route `HeartbeatEvents` on every silo");

        var rssBefore = Bench.Measurement.Rss();
        var fill = Stopwatch.StartNew();
        await _target.FillAsync(_ids, context.Log, cancel);
        _notes.Add(string.Create(CultureInfo.InvariantCulture,
            $"{_devices:N0} devices registered by bulk create through the grain interface in {fill.Elapsed.TotalSeconds:0.0} s; this process's RSS {rssBefore / 1e6:N0} MB before, {Bench.Measurement.Rss() / 1e6:N0} MB after"));
        _notes.Add(string.Create(CultureInfo.InvariantCulture,
            $"plan (seed {_seed}): {_plan.Silent.Count:N0} devices go silent (--silent {_silentShare}), {_plan.Recovering.Count:N0} of them come back (--recover {_recoverShare}); first silent: {string.Join(", ", _plan.Silent.Take(5).Select(d => _ids[d]))}"));

        var silentSet = _plan.Silent.ToHashSet();
        var stillSilent = _plan.Silent.Except(_plan.Recovering).ToHashSet();
        int[] all = [.. Enumerable.Range(0, _devices)];
        int[] talking = [.. all.Where(d => !silentSet.Contains(d))];
        int[] returned = [.. all.Where(d => !stillSilent.Contains(d))];
        var steady = TimeSpan.FromTicks(Math.Max(context.Options.Bounds.Duration.Ticks, _beatEvery.Ticks * 2));
        // A silent device whose partition was on the killed silo is re-armed a full deadline after the failover, and its
        // grain, activated anew by that probe, gives it one more (docs/invariants.md §11): two deadlines, by design.
        var failover = _killAt is null ? TimeSpan.Zero : 2 * Deadline + FailoverAllowance;
        var quiet = Deadline + _beatEvery;
        var steps = new List<Step>
        {
            Phase("beat", all, steady, null, start: () => StartSoak(all),
                $"every device beats; {steady.TotalSeconds:0.#} s (--duration, at least two beats each), so every device joined its monitor partition"),
            Phase("silence", talking, Deadline + _beatEvery + _alertTimeout + failover,
                ct => tally.WhenMissed(_plan.Silent, ct), start: () => Silence(talking),
                "the silent set stops; ends once every silent device was announced missed (bounded by a deadline plus --alert-timeout)"),
        };
        if (_plan.Recovering.Count > 0)
        {
            steps.Add(Phase("recover", returned, _beatEvery + _alertTimeout + failover,
                ct => tally.WhenRecovered(_plan.Recovering, ct), start: () => Return(returned),
                "the returning devices beat again; ends once every one was announced recovered (bounded)"));
        }
        steps.Add(Phase("quiet", returned, quiet + (_killAt is { } at ? at + failover + quiet : TimeSpan.Zero),
            ct => QuietAsync(quiet, ct), start: () => Mark("quiet: a full deadline more for late or repeated alerts", returned),
            "everyone but the still-silent beats for a full deadline more (and a deadline after the kill's failover): late, repeated or false alerts would arrive here"));
        return steps;
    }

    /// <summary>A soak phase: beats from <paramref name="beating"/>, each once per beat period, until its condition or bound.</summary>
    private Step Phase(string name, int[] beating, TimeSpan bound, Func<CancellationToken, Task>? until, Action start, string description)
    {
        var begun = 0;
        return new Step(name, (n, ct) =>
        {
            if (Interlocked.Exchange(ref begun, 1) == 0)
            {
                start();
            }
            return BeatAsync(ct);
        })
        {
            ItemsPerCall = Cadence(beating.Length, _batch).PerCall,
            Model = Rate(beating.Length),
            Bounds = new RunBounds(bound, null, TimeSpan.Zero, PhaseDrain(_killAt is not null, _beatEvery)),
            WarmUp = false,
            Until = until is null ? null : ct =>
            {
                // The phase's devices beat from its first call: start it here too, should the condition hold at once.
                if (Interlocked.Exchange(ref begun, 1) == 0)
                {
                    start();
                }
                return until(ct);
            },
            Description = description,
        };
    }

    private void StartSoak(int[] all)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            return;
        }
        _beating = all;
        _clock.Start();
        if (_killAt is { } at && _cluster is { } cluster)
        {
            _kill = KillAsync(cluster.Silos[^1], at, _disposing.Token);
        }
    }

    private void Silence(int[] talking)
    {
        foreach (var d in _plan!.Silent)
        {
            _beatBeforeSilence[d] = _lastAck[d] > 0;
        }
        Mark("the silent set stops beating", talking);
    }

    private void Return(int[] returned)
    {
        // Their planned silence is no gap of the harness's beats: the longest gap counts from their return.
        foreach (var d in _plan!.Recovering)
        {
            _lastAck[d] = 0;
        }
        Mark("the returning devices beat again", returned);
    }

    private void Mark(string what, int[] beating)
    {
        // The previous phase's calls have all ended (the step drained): a new cycle begins, oldest beat first.
        _beating = BeatOrder(beating, _lastAck);
        Interlocked.Exchange(ref _cursor, 0);
        _notes.Add(string.Create(CultureInfo.InvariantCulture, $"t={_clock.Elapsed.TotalSeconds:0.0} s: {what} ({beating.Length:N0} devices beating)"));
    }

    private async Task KillAsync(SiloProcess silo, TimeSpan at, CancellationToken cancel)
    {
        try
        {
            await Task.Delay(at, cancel);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        await silo.KillAsync();
        _killedAt = _clock.Elapsed.TotalSeconds;
        _notes.Add(string.Create(CultureInfo.InvariantCulture,
            $"t={_killedAt:0.0} s: silo (pid {silo.ProcessId}, silo port {silo.SiloPort}) killed with kill -9 (--kill-silo-at {at.TotalSeconds:0.#} s)"));
        _log($"killed silo pid {silo.ProcessId} at t={_killedAt:0.0} s");
        _killed.TrySetResult();
    }

    /// <summary>The quiet phase: a full deadline, and with a kill, a failover plus a full deadline after it.</summary>
    private async Task QuietAsync(TimeSpan quiet, CancellationToken cancel)
    {
        await Task.Delay(quiet, cancel); // the soak's own time window: how long a late alert could still come
        if (_killAt is not null)
        {
            await _killed.Task.WaitAsync(cancel);
            var since = TimeSpan.FromSeconds(_clock.Elapsed.TotalSeconds - _killedAt!.Value);
            var wait = FailoverAllowance + quiet - since;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, cancel);
            }
        }
    }

    /// <summary>One batch of the next devices in the current phase's round: a beat for each, retried across a failover.</summary>
    private async ValueTask<string?> BeatAsync(CancellationToken cancel)
    {
        var beating = _beating;
        var (size, calls) = Cadence(beating.Length, _batch);
        if (beating.Length == 0)
        {
            return null;
        }
        var start = (int)((Interlocked.Increment(ref _cursor) - 1) % calls) * size;
        var devices = new ArraySegment<int>(beating, start, Math.Min(size, beating.Length - start));
        var ids = devices.Select(d => _ids[d]).ToArray();
        var grains = _target!.Grains;
        var retryUntil = _clock.Elapsed + RetryWindowFor(_beatEvery);
        // Only in the kill mode: calls to the killed silo fail until its grains live elsewhere; a device retries.
        var answers = await RetryAsync(
            () => grains.GetGrain<IHeartbeatBatchGrain>(0).Heartbeat(ids),
            _killAt is not null ? AttemptTimeout : Timeout.InfiniteTimeSpan,
            () => _killAt is not null && _clock.Elapsed < retryUntil,
            () => Interlocked.Increment(ref _retried),
            TimeSpan.FromSeconds(1), TimeProvider.System, cancel);
        var now = _clock.Elapsed.TotalSeconds;
        for (var i = 0; i < answers.Length; i++)
        {
            if (answers[i] != DeviceAccess.Granted)
            {
                return answers[i].ToString();
            }
            var d = devices[i];
            if (_lastAck[d] > 0)
            {
                _longestGap[d] = Math.Max(_longestGap[d], now - _lastAck[d]);
            }
            _lastAck[d] = now;
        }
        return null;
    }

    public Task<IReadOnlyList<string>> VerifyAsync(CancellationToken cancel)
    {
        var verdict = _tally!.Verify(_plan!,
            d => string.Create(CultureInfo.InvariantCulture, $"longest gap between its acknowledged heartbeats {_longestGap[d]:0.0} s, deadline {_interval + _grace} s"),
            d => _longestGap[d] > _interval + _grace);
        var problems = verdict.Problems.ToList();
        var unbeaten = _plan!.Silent.Where(d => !_beatBeforeSilence[d]).ToList();
        if (unbeaten.Count > 0)
        {
            problems.Add(string.Create(CultureInfo.InvariantCulture,
                $"{unbeaten.Count:N0} silent devices had no acknowledged heartbeat before the silence, so were never monitored (the soak's fault: a longer --duration)"));
        }
        if (_killAt is not null && _killedAt is null)
        {
            problems.Add("no silo was killed: the soak ended before --kill-silo-at");
        }
        if (_killAt is not null)
        {
            _notes.Add(string.Create(CultureInfo.InvariantCulture, $"beat calls retried while the killed silo's grains moved: {Interlocked.Read(ref _retried):N0}"));
        }
        foreach (var line in verdict.Lines())
        {
            _notes.Add(line);
            _log(line);
        }
        return Task.FromResult<IReadOnlyList<string>>(problems);
    }

    public bool StepsBoundThemselves => true;

    public async ValueTask DisposeAsync()
    {
        await _disposing.CancelAsync();
        await _kill;
        if (_subscription is not null)
        {
            try
            {
                await _subscription.UnsubscribeAsync();
            }
            catch (Exception e) when (e is OrleansException or TimeoutException)
            {
                // The registry may be gone already; the subscription ends with it.
            }
        }
        if (_target is not null)
        {
            await _target.DisposeAsync();
        }
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
        _disposing.Dispose();
    }
}
