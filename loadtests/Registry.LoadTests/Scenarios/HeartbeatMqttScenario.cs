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

    public HeartbeatMqttScenario(Arguments args)
    {
        _devices = args.Int("--devices", 10_000, min: 1);
        _interval = args.String("--interval") is { } i ? Durations.Parse(i) : null;
        _connectConcurrency = args.Int("--connect-concurrency", 64, min: 1);
        _payload = new byte[args.Int("--payload", 64)];
        // Device and broker run in this process: each connection is two sockets here, the bare broker's storm as many.
        // Past the process's limit the runtime dies "Out of memory." in the middle of the storm; say so before starting.
        var needed = 2L * _devices + FileHeadroom;
        if (OpenFileLimit() is { } limit && needed > limit)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"{_devices:N0} devices need about {needed:N0} open files in this process (each MQTT connection is two sockets here, the device's and the broker's), but it may open {limit:N0}: raise the limit in the shell that runs the harness (`ulimit -n {Math.Max(65_536, needed):D}`; above the hard limit as root) or use fewer devices."));
        }
    }

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
    public LoadModel DefaultModel => _interval is { } interval ? LoadModel.Open(_devices / interval.TotalSeconds) : LoadModel.Closed(_devices);

    public IReadOnlyList<string> Notes => _notes;

    public async Task<IReadOnlyList<Step>> PrepareAsync(ScenarioContext context, CancellationToken cancel)
    {
        var target = await RegistryTarget.StartInProcessAsync(_devices, mqtt: true, cancel);
        _owned.Add(target);
        _notes.Add("target: " + target.Description + $"; its MQTT edge on 127.0.0.1:{target.MqttPort} (TLS)");
        var ids = Enumerable.Range(0, _devices).Select(i => string.Create(CultureInfo.InvariantCulture, $"mqtt-{i:D6}")).ToArray();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await target.FillAsync(ids, context.Log, cancel);
        _notes.Add(string.Create(CultureInfo.InvariantCulture,
            $"{_devices:N0} devices registered in {clock.Elapsed.TotalSeconds:0.0} s; each connects with its own SAS token (MQTT 3.1.1, TLS, clean session off, keep-alive 180 s) and publishes QoS 1 {_payload.Length} B messages to devices/{{id}}/messages/events/; clients run in this process"));
        var steps = new List<Step>();
        if (context.Options.Ceiling)
        {
            var port = Bench.BenchHost.FreePorts(1)[0];
            var bare = await MqttBench.StartBareBrokerAsync(Path.Combine(target.InProcess!.Certificates, DevelopmentCertificates.ServerFileName), port);
            _owned.Insert(0, new Disposer(async () =>
            {
                await bare.StopAsync();
                bare.Dispose();
            }));
            steps.AddRange(Steps("bare-", port, ids, ceiling: true));
        }
        steps.AddRange(Steps("", target.MqttPort!.Value, ids, ceiling: false));
        return steps;
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
