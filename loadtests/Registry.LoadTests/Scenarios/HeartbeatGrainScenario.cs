using System.Globalization;
using Registry.Abstractions;
using Registry.Bench.Heartbeats;
using Registry.LoadTests.Harness;

namespace Registry.LoadTests.Scenarios;

/// <summary>
/// <c>heartbeat-grain</c>: devices beating through the grain interface, as a client app holding many devices would,
/// through an Orleans client: <c>IDeviceGrain.Heartbeat</c> one device a call, and <c>IHeartbeatBatchGrain</c> many
/// a call. Its ceiling is a no-op grain call through the same client, gateway and scheduler (in-process target only:
/// an external silo does not host the no-op grain). With <c>--interval</c> every device beats once per interval on
/// average (the open model at devices ÷ interval); without it, calls are kept in flight to find the capacity.
/// </summary>
internal sealed class HeartbeatGrainScenario : IScenario
{
    private readonly int _devices;
    private readonly TimeSpan? _interval;
    private readonly int _batch;
    private readonly string _mode;
    private readonly int _noopGrains;
    private readonly string? _cluster;
    private readonly string _clusterId;
    private readonly string _serviceId;
    private readonly TimeSpan _connectLimit;
    private readonly string _prefix;
    private readonly bool _fill;
    private readonly List<string> _notes = [];
    private RegistryTarget? _target;

    public HeartbeatGrainScenario(Arguments args)
    {
        _devices = args.Int("--devices", 100_000, min: 1, max: ScenarioLimits.MaxDevices);
        _interval = args.String("--interval") is null ? null : args.Duration("--interval", TimeSpan.Zero, positive: true);
        if (_interval is { } interval)
        {
            LoadModel.ForInterval(_devices, interval); // refused now, before anything starts, when it asks for too much
        }
        _batch = args.Int("--batch", 100, min: 1);
        _mode = args.String("--mode") ?? "both";
        _noopGrains = args.Int("--noop-grains", 100_000, min: 1, max: ScenarioLimits.MaxDevices);
        _cluster = args.String("--cluster");
        var clusterId = args.String("--cluster-id");
        var serviceId = args.String("--service-id");
        if (_cluster is not null)
        {
            _ = RegistryTarget.ParseGateways(_cluster); // a typo fails now, not after a start
            if (clusterId is null || serviceId is null)
            {
                throw new ArgumentException("--cluster needs --cluster-id and --service-id: the cluster's own (Registry:ClusterId and Registry:ServiceId), or its gateways refuse the client.");
            }
        }
        else if (clusterId is not null || serviceId is not null)
        {
            throw new ArgumentException("--cluster-id and --service-id go with --cluster.");
        }
        // How long the client tries an external cluster's gateways before the run is refused (a wrong address fails fast).
        _connectLimit = args.Duration("--connect-limit", RegistryTarget.ConnectLimit, positive: true);
        if (_cluster is null && args.String("--connect-limit") is not null)
        {
            throw new ArgumentException("--connect-limit goes with --cluster.");
        }
        _clusterId = clusterId ?? "registry";
        _serviceId = serviceId ?? "registry";
        if (_interval is not null && args.String("--model") is not null)
        {
            throw new ArgumentException("--interval sets the load (an open model at devices ÷ interval); give --interval or --model, not both.");
        }
        var prefix = args.String("--prefix");
        _fill = !args.Flag("--no-fill");
        if (_cluster is null && (prefix is not null || !_fill))
        {
            // The in-process registry starts empty: without its fill every heartbeat answered NotRegistered.
            throw new ArgumentException("--prefix and --no-fill go with --cluster (devices an external cluster already holds).");
        }
        _prefix = prefix ?? (_cluster is null ? "hb-" : $"hb-{Guid.NewGuid().ToString("N")[..6]}-");
        if (_mode is not ("single" or "batch" or "both"))
        {
            throw new ArgumentException($"--mode takes single, batch or both; '{_mode}' is not one.");
        }
        if (_batch > RegistryLimits.MaxHeartbeatBatch)
        {
            throw new ArgumentException($"--batch takes 1 to {RegistryLimits.MaxHeartbeatBatch} (the registry's largest heartbeat batch); {_batch} is more.");
        }
        // Taken and ignored until a hostile review (2026-12-04): each bounds a step the run would not have.
        if (_mode == "single" && args.String("--batch") is not null)
        {
            throw new ArgumentException("--batch sizes the heartbeat-batch step, which --mode single does not run.");
        }
        if (args.String("--noop-grains") is not null && (_cluster is not null || args.Flag("--no-ceiling")))
        {
            throw new ArgumentException("--noop-grains sizes the no-op ceiling, which does not run with --no-ceiling or against an external --cluster.");
        }
    }

    public LoadModel DefaultModel => _interval is { } interval ? LoadModel.ForInterval(_devices, interval) : LoadModel.Closed(256);

    public IReadOnlyList<string> Notes => _notes;

    /// <summary>The target's grains, once prepared (tests look at its activations).</summary>
    internal IGrainFactory Grains => _target?.Grains ?? throw new InvalidOperationException("not prepared");

    public async Task<IReadOnlyList<Step>> PrepareAsync(ScenarioContext context, CancellationToken cancel)
    {
        _target = _cluster is null
            ? await RegistryTarget.StartInProcessAsync(0, mqtt: false, cancel)
            : await RegistryTarget.ConnectExternalAsync(_cluster, _clusterId, _serviceId, cancel, _connectLimit, context.Log);
        _notes.Add("target: " + _target.Description);
        var ids = Enumerable.Range(0, _devices).Select(i => string.Create(CultureInfo.InvariantCulture, $"{_prefix}{i:D7}")).ToArray();
        if (_fill)
        {
            var rssBefore = Bench.Measurement.Rss();
            var clock = System.Diagnostics.Stopwatch.StartNew();
            await _target.FillAsync(ids, context.Log, cancel);
            _notes.Add(string.Create(CultureInfo.InvariantCulture,
                $"{_devices:N0} devices registered by bulk create through the grain interface in {clock.Elapsed.TotalSeconds:0.0} s; RSS {rssBefore / 1e6:N0} MB before, {Bench.Measurement.Rss() / 1e6:N0} MB after (every device grain active)"));
            if (_cluster is not null)
            {
                // They stay in the target registry (a review found the run's devices there, unnamed, 2026-12-07).
                var left = string.Create(CultureInfo.InvariantCulture,
                    $"the {_devices:N0} devices stay in the target registry, ids {ids[0]} to {ids[^1]}: run again on them with --no-fill --prefix {_prefix}, or delete them with the registry's bulk delete");
                _notes.Add(left);
                context.Log(left);
            }
        }
        var model = context.Options.Model ?? DefaultModel;
        _notes.Add(_interval is { } interval
            ? string.Create(CultureInfo.InvariantCulture, $"{_devices:N0} devices, each beating once per {interval.TotalSeconds:0.###} s on average: {_devices / interval.TotalSeconds:N0} heartbeats/s offered")
            : string.Create(CultureInfo.InvariantCulture, $"{_devices:N0} devices drawn round-robin (every device beats once per {_devices:N0} heartbeats)"));
        var grains = _target.Grains;
        var steps = new List<Step>();
        if (_mode is "single" or "both")
        {
            steps.Add(new Step("heartbeat", async (n, _) =>
                await GrainReferences<IDeviceGrain>.Get(grains, ids[n % ids.Length]).Heartbeat() is var access && access == DeviceAccess.Granted ? null : access.ToString())
            {
                Description = "`IDeviceGrain.Heartbeat()`, one device a call, its reference from `GrainReferences<T>` as the registry's gateways take theirs",
            });
        }
        if (_mode is "batch" or "both")
        {
            steps.Add(BatchStep(ids, _batch, model, slice => grains.GetGrain<IHeartbeatBatchGrain>(0).Heartbeat(slice)));
        }
        if (context.Options.Ceiling && _target.InProcess is not null)
        {
            var noop = Math.Min(_noopGrains, ids.Length);
            if (_fill)
            {
                await ActivateNoopGrainsAsync(grains, ids, noop, context, cancel);
            }
            steps.Insert(0, new Step("noop-grain", async (n, _) => await GrainReferences<INoopGrain>.Get(grains, ids[n % noop]).Ping() == 0 ? null : "wrong answer")
            {
                CeilingOf = steps[0].Name,
                Description = string.Create(CultureInfo.InvariantCulture, $"`INoopGrain.Ping()` over {noop:N0} grains keyed like the devices, each activated before it is measured as the fill activated the devices: the same client, gateway, scheduler and `GrainReferences<T>`, no work (the ceiling)"),
            });
        }
        else if (context.Options.Ceiling)
        {
            _notes.Add("no ceiling: an external cluster does not host the no-op grain");
        }
        return steps;
    }

    /// <summary>
    /// The <c>heartbeat-batch</c> step: call <c>n</c> sends <see cref="BatchIds"/> through <paramref name="send"/>
    /// (<c>IHeartbeatBatchGrain.Heartbeat</c>; a test passes its own to see the ids). Every call carries the same number
    /// of ids, the one the step counts: calls of <c>--batch</c> ids each counted <c>--batch</c> heartbeats although the
    /// last call of a round carried the rest (100 devices in batches of 1,000 reported 1,000 heartbeats a call for 100
    /// sent; 150 devices in batches of 100 counted a third more than they sent). The calls are evened out as the alert
    /// soak's are (<see cref="AlertSoakScenario.Cadence"/>).
    /// </summary>
    internal static Step BatchStep(string[] ids, int batch, LoadModel model, Func<IReadOnlyList<string>, Task<DeviceAccess[]>> send)
    {
        var (perCall, calls) = AlertSoakScenario.Cadence(ids.Length, batch);
        return new Step("heartbeat-batch", async (n, _) =>
        {
            var answers = await send(BatchIds(ids, perCall, n));
            return answers.FirstOrDefault(a => a != DeviceAccess.Granted) is var bad && bad == DeviceAccess.Granted ? null : bad.ToString();
        })
        {
            ItemsPerCall = perCall,
            Description = string.Create(CultureInfo.InvariantCulture,
                $"`IHeartbeatBatchGrain.Heartbeat(ids)`, {perCall} consecutive devices a call ({ids.Length:N0} devices in {calls:N0} equal calls of at most --batch {batch}; a call running past the last device goes on from the first); items are heartbeats"),
            // A batch call carries many heartbeats: as many in flight as single calls would flood the silo's queue.
            Model = model.Kind == LoadKind.Closed ? model with { From = Math.Max(1, Math.Ceiling(model.From * 4 / perCall)), To = Math.Max(1, Math.Ceiling(model.To * 4 / perCall)) } : null,
        };
    }

    /// <summary>
    /// The ids call <paramref name="call"/> carries: <paramref name="perCall"/> consecutive ids following the previous
    /// call's, going on from the first id once past the last, so every call carries exactly <paramref name="perCall"/>
    /// (at most all the ids) and every device beats equally often.
    /// </summary>
    internal static IReadOnlyList<string> BatchIds(string[] ids, int perCall, long call)
    {
        var start = (int)(call % ids.Length * perCall % ids.Length);
        if (start + perCall <= ids.Length)
        {
            return new ArraySegment<string>(ids, start, perCall);
        }
        var slice = new string[perCall];
        Array.Copy(ids, start, slice, 0, ids.Length - start);
        Array.Copy(ids, 0, slice, ids.Length - start, perCall - (ids.Length - start));
        return slice;
    }

    /// <summary>
    /// Calls every no-op grain once before the ceiling is measured, as the fill left every device grain active: with as
    /// many no-op grains as devices (1M) the first round's ceiling otherwise timed mostly activations (42,607 calls/s
    /// against 92,647 in the next round) and made the first round's ratio 2.2.
    /// </summary>
    private async Task ActivateNoopGrainsAsync(IGrainFactory grains, string[] ids, int noop, ScenarioContext context, CancellationToken cancel)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, noop), new ParallelOptions { MaxDegreeOfParallelism = 256, CancellationToken = cancel },
            async (i, _) => await GrainReferences<INoopGrain>.Get(grains, ids[i]).Ping());
        var line = string.Create(CultureInfo.InvariantCulture, $"{noop:N0} no-op grains activated before the ceiling is measured{(noop < _noopGrains ? $" (--noop-grains {_noopGrains:N0}, at most one per device)" : "")}, in {clock.Elapsed.TotalSeconds:0.0} s");
        context.Log(line);
        _notes.Add(line);
    }

    public async ValueTask DisposeAsync()
    {
        if (_target is not null)
        {
            await _target.DisposeAsync();
        }
    }
}
