using System.Globalization;
using MQTTnet;
using MQTTnet.Protocol;
using MQTTnet.Server;
using Registry.Bench.Mqtt;
using Registry.Host;
using Registry.LoadTests.Harness;

namespace Registry.LoadTests.Scenarios;

/// <summary>
/// <c>heartbeat-mqtt</c>: devices on MQTTnet clients over TLS, as the Azure IoT device SDKs connect (client id, SAS
/// token as password), first all at once (the connect storm, <c>--connect-concurrency</c> in flight), then
/// publishing QoS 1 telemetry, which the registry counts as heartbeats. The ceiling is a bare MQTTnet broker with the
/// same certificate that drops every publish: the same storm and the same publishes are run against it first, and
/// its clients disconnect before the registry's connect.
/// </summary>
internal sealed class HeartbeatMqttScenario : IScenario
{
    private readonly int _devices;
    private readonly TimeSpan? _interval;
    private readonly int _connectConcurrency;
    private readonly byte[] _payload;
    private readonly List<string> _notes = [];
    private readonly List<IAsyncDisposable> _owned = [];
    private readonly bool _brokersProcess;
    private readonly bool _brokersAsked;

    /// <summary>The largest <c>--payload</c>: 256 KB, IoT Hub's device-to-cloud message size.</summary>
    internal const int MaxPayload = 256 * 1024;

    public HeartbeatMqttScenario(Arguments args)
    {
        _devices = args.Int("--devices", 10_000, min: 1, max: ScenarioLimits.MaxMqttDevices);
        _interval = args.String("--interval") is null ? null : args.Duration("--interval", TimeSpan.Zero, positive: true);
        if (_interval is { } interval)
        {
            LoadModel.ForInterval(_devices, interval); // refused now, before anything starts, when it asks for too much
        }
        if (_interval is not null && args.String("--model") is not null)
        {
            // Taken, with --interval dropped without a word (a hostile review, 2026-12-04), as the other scenarios had been.
            throw new ArgumentException("--interval sets the load (an open model at devices ÷ interval); give --interval or --model, not both.");
        }
        _connectConcurrency = args.Int("--connect-concurrency", 64, min: 1, max: ScenarioLimits.MaxParallelism);
        // IoT Hub's device-to-cloud message limit: a larger publish was accepted here and then failed every message
        // with an MQTT protocol violation.
        _payload = new byte[args.Int("--payload", 64, max: MaxPayload)];
        // With the brokers in this process every connection is two of its sockets, the device's and the broker's; past
        // the process's limit on open files the runtime died "Out of memory." in the middle of the storm. Where two
        // would not fit, the brokers run in a child process (each side then holds one socket a connection).
        var limit = OpenFileLimit();
        _brokersAsked = args.Flag("--brokers-process");
        _brokersProcess = _brokersAsked || (limit is { } l && 2L * _devices + FileHeadroom > l);
        var needed = (_brokersProcess ? 1L : 2L) * _devices + FileHeadroom;
        if (limit is { } max && needed > max)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"{_devices:N0} devices need about {needed:N0} open files in this process (one socket a connection, with the brokers in a process of their own), but it may open {max:N0}: raise the limit in the shell that runs the harness (`ulimit -n {Math.Max(65_536, needed):D}`; above the hard limit as root) or use fewer devices."));
        }
    }

    /// <summary>True when the registry and the bare broker run in a child process (<see cref="BrokersProcess"/>).</summary>
    internal bool InBrokersProcess => _brokersProcess;

    /// <summary>Files the process needs besides the connections: assemblies, the silo's and gateway's sockets, logs.</summary>
    internal const int FileHeadroom = 2_000;

    /// <summary>This process's limit on open files (<c>RLIMIT_NOFILE</c>, soft), from /proc; null where there is none to read.</summary>
    internal static long? OpenFileLimit()
    {
        const string path = "/proc/self/limits";
        if (!File.Exists(path))
        {
            return null;
        }
        var line = File.ReadLines(path).FirstOrDefault(l => l.StartsWith("Max open files", StringComparison.Ordinal));
        var soft = line?["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
        return long.TryParse(soft, CultureInfo.InvariantCulture, out var value) ? value : null;
    }

    /// <summary>With an interval, each device publishes once per interval on average; without, each keeps one publish in flight.</summary>
    public LoadModel DefaultModel => _interval is { } interval ? LoadModel.ForInterval(_devices, interval) : LoadModel.Closed(_devices);

    public IReadOnlyList<string> Notes => _notes;

    public async Task<IReadOnlyList<Step>> PrepareAsync(ScenarioContext context, CancellationToken cancel)
    {
        var ids = Ids(_devices);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int registryPort, barePort;
        if (_brokersProcess)
        {
            var brokers = await BrokersProcess.StartAsync(_devices, context.Log, cancel);
            _owned.Add(brokers);
            (registryPort, barePort) = (brokers.RegistryPort, brokers.BarePort);
            _notes.Add($"target: a child process of the harness (pid {brokers.ProcessId}, `Registry.LoadTests {BrokersProcess.Command}`) runs the registry (memory storage, SAS authentication on) with its MQTT edge on 127.0.0.1:{registryPort} (TLS) and the bare broker; {(_brokersAsked ? "asked by --brokers-process" : $"this process could not hold both ends of every connection (its limit on open files is {OpenFileLimit():N0})")}");
        }
        else
        {
            var (target, bare) = await StartBrokersAsync(_devices, ids, context.Log, cancel);
            _owned.Add(target);
            _owned.Insert(0, bare);
            (registryPort, barePort) = (target.MqttPort!.Value, bare.Port);
            _notes.Add("target: " + target.Description + $"; its MQTT edge on 127.0.0.1:{registryPort} (TLS)");
        }
        _notes.Add(string.Create(CultureInfo.InvariantCulture,
            $"{_devices:N0} devices registered in {clock.Elapsed.TotalSeconds:0.0} s (with the brokers' start); each connects with its own SAS token (MQTT 3.1.1, TLS, clean session off, keep-alive 180 s) and publishes QoS 1 {_payload.Length} B messages to devices/{{id}}/messages/events/; clients run in this process"));
        var steps = new List<Step>();
        if (context.Options.Ceiling)
        {
            steps.AddRange(Steps("bare-", barePort, ids, ceiling: true));
        }
        steps.AddRange(Steps("", registryPort, ids, ceiling: false));
        return steps;
    }

    internal static string[] Ids(int devices) =>
        Enumerable.Range(0, devices).Select(i => string.Create(CultureInfo.InvariantCulture, $"mqtt-{i:D6}")).ToArray();

    /// <summary>The registry (its devices registered) and a bare MQTTnet broker with the same certificate that drops every publish.</summary>
    internal static async Task<(RegistryTarget Target, BareBroker Bare)> StartBrokersAsync(int devices, string[] ids, Action<string> log, CancellationToken cancel)
    {
        var target = await RegistryTarget.StartInProcessAsync(devices, mqtt: true, cancel);
        try
        {
            await target.FillAsync(ids, log, cancel);
            var port = Bench.BenchHost.FreePorts(1)[0];
            var server = await MqttBench.StartBareBrokerAsync(Path.Combine(target.InProcess!.Certificates, DevelopmentCertificates.ServerFileName), port);
            return (target, new BareBroker(server, port));
        }
        catch
        {
            await target.DisposeAsync();
            throw;
        }
    }

    /// <summary>The bare broker of the ceiling steps.</summary>
    internal sealed class BareBroker(MqttServer server, int port) : IAsyncDisposable
    {
        public int Port => port;

        public async ValueTask DisposeAsync()
        {
            await server.StopAsync();
            server.Dispose();
        }
    }

    /// <summary>The connect storm and the publishes against one broker; the publish step's end disconnects every client.</summary>
    private IEnumerable<Step> Steps(string prefix, int port, string[] ids, bool ceiling)
    {
        var factory = new MqttClientFactory();
        var clients = new IMqttClient?[ids.Length];
        var topics = ids.Select(id => $"devices/{id}/messages/events/").ToArray();
        var expiry = DateTimeOffset.UtcNow.AddHours(12);
        var target = ceiling ? "a bare MQTTnet broker that drops every publish (the ceiling)" : "the registry's MQTT edge";
        yield return new Step(prefix + "connect", async (n, cancel) =>
        {
            var client = factory.CreateMqttClient();
            clients[n] = client;
            var result = await client.ConnectAsync(MqttLoad.DeviceOptions(ids[n], port, "localhost", RegistryTarget.DeviceKey, expiry), cancel);
            return result.ResultCode == MqttClientConnectResultCode.Success ? null : "CONNACK " + result.ResultCode;
        })
        {
            CeilingOf = ceiling ? "connect" : null,
            Model = LoadModel.Closed(_connectConcurrency),
            Bounds = new RunBounds(TimeSpan.FromMinutes(30), ids.Length, TimeSpan.Zero, TimeSpan.FromMinutes(1)),
            WarmUp = false,
            Description = $"every device connects once to {target} over TLS, {_connectConcurrency} connects in flight (the connect storm)",
        };
        yield return new Step(prefix + "publish", async (n, cancel) =>
        {
            var i = (int)(n % ids.Length);
            if (clients[i] is not { IsConnected: true } client)
            {
                return "not connected";
            }
            var message = new MqttApplicationMessageBuilder().WithTopic(topics[i]).WithPayload(_payload)
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build();
            var result = await client.PublishAsync(message, cancel);
            return result.IsSuccess ? null : "PUBACK " + result.ReasonCode;
        })
        {
            CeilingOf = ceiling ? "publish" : null,
            After = async _ =>
            {
                await Parallel.ForEachAsync(clients.Where(c => c is not null), new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (c, _) =>
                {
                    if (c!.IsConnected)
                    {
                        await c.DisconnectAsync();
                    }
                    c.Dispose();
                });
                Array.Clear(clients);
            },
            Description = $"QoS 1 publishes to {target}, devices round-robin (a publish is answered by its PUBACK)",
        };
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var owned in _owned)
        {
            await owned.DisposeAsync();
        }
    }
}
