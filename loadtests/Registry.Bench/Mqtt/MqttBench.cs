using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using MQTTnet.Server;
using Registry.Abstractions;
using Registry.Host;

namespace Registry.Bench.Mqtt;

/// <summary>The <c>mqtt</c> command's options; a run is bounded by rounds × 2 targets × (connect + 2 phases).</summary>
internal sealed record MqttBenchOptions
{
    public int Connections { get; init; } = 10_000;
    public int Rounds { get; init; } = 3;
    public TimeSpan PhaseTime { get; init; } = TimeSpan.FromSeconds(8);
    /// <summary>The open phase's injection rate, messages per second over all connections.</summary>
    public double Rate { get; init; } = 5_000;
    public int Payload { get; init; } = 64;
    /// <summary>The load generator's GC: server (as before) or workstation; its pauses delay sends and so count in the latency.</summary>
    public string ClientGc { get; init; } = "server";
    public string? Output { get; init; }

    public static MqttBenchOptions Parse(string[] args)
    {
        var options = new MqttBenchOptions();
        for (var i = 0; i < args.Length; i++)
        {
            int Int() { var option = args[i]; return BenchArgs.Int(option, Next(), int.MinValue); }
            double Number() { var option = args[i]; return BenchArgs.Positive(option, Next()); }
            string Next() => i + 1 < args.Length ? args[++i] : throw new UsageException($"{args[i]} needs a value.");
            options = args[i] switch
            {
                "--connections" => options with { Connections = Int() },
                "--rounds" => options with { Rounds = Int() },
                "--seconds" => options with { PhaseTime = TimeSpan.FromSeconds(Number()) },
                "--rate" => options with { Rate = Number() },
                "--payload" => options with { Payload = Int() },
                "--client-gc" => options with { ClientGc = Next() },
                "--out" => options with { Output = Next() },
                _ => throw new UsageException($"Unknown option {args[i]}. Options: --connections --rounds --seconds --rate --payload --client-gc --out"),
            };
        }
        if (options.Connections is < 1 or > 999_999 || options.Rounds < 1 || options.Rate <= 0 || options.Payload is < 0 or > 262_144 || options.ClientGc is not ("server" or "workstation"))
        {
            throw new UsageException("--connections 1..999999, --rounds ≥ 1, --rate > 0, --payload 0..262144, --client-gc server|workstation.");
        }
        return options;
    }
}

/// <summary>One round: the bare broker and the registry under the same load, and the broker process's memory per connection.</summary>
internal sealed record MqttRound(MqttLoadResult Bare, MqttLoadResult Registry, double BareBytesPerConnection, double RegistryBytesPerConnection)
{
    /// <summary>The brokers' process's GC pauses during each open phase.</summary>
    public GcPauseStats? BareBrokerGc { get; init; }

    public GcPauseStats? RegistryBrokerGc { get; init; }

    public double Ratio => Registry.ClosedMessagesPerSecond / Bare.ClosedMessagesPerSecond;
}

internal sealed record MqttReport(MqttBenchOptions Options, IReadOnlyList<MqttRound> Rounds, string LoadBefore, string LoadAfter)
{
    public long Failures => Rounds.Sum(r => r.Bare.ConnectFailures + r.Registry.ConnectFailures + r.Bare.ClosedFailures
        + r.Registry.ClosedFailures + r.Bare.OpenFailures + r.Registry.OpenFailures);

    public string ToMarkdown()
    {
        var o = Options;
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"# MQTT heartbeats: {o.Connections:N0} TLS connections, QoS 1, {o.Payload} B payloads");
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"A child process connects every device (MQTTnet client, TLS) to a bare MQTTnet broker (the ceiling) and to the registry's MQTT edge in turn; closed phase: each connection keeps one publish in flight for {o.PhaseTime.TotalSeconds:0.#} s; open phase: {o.Rate:N0} msg/s injected for {o.PhaseTime.TotalSeconds:0.#} s, latency from the intended send time. {Environment.ProcessorCount} cores shared by the brokers and the clients; load average before {LoadBefore}, after {LoadAfter}.");
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"GC: brokers' process {(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")}, load generator {o.ClientGc}. The GC columns are the pauses during the open phase (count, total, longest) in the brokers' process and in the load generator.");
        text.AppendLine();
        text.AppendLine("| round | target | connect s | msg/s closed | ÷ bare | open msg/s achieved | open p50 / p99 / max ms | broker GC in open phase | load generator GC in open phase | broker bytes per connection | failures |");
        text.AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        var n = 1;
        foreach (var r in Rounds)
        {
            Row(text, n, r.Bare, null, r.BareBytesPerConnection, r.BareBrokerGc);
            Row(text, n, r.Registry, r.Ratio, r.RegistryBytesPerConnection, r.RegistryBrokerGc);
            n++;
        }
        if (Rounds.Count > 0)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| **median** | registry | {Measurement.Median(Rounds.Select(r => r.Registry.ConnectSeconds)):0.0} | {Measurement.Median(Rounds.Select(r => r.Registry.ClosedMessagesPerSecond)):N0} | **{Measurement.Median(Rounds.Select(r => r.Ratio)):0.00}** | {Measurement.Median(Rounds.Select(r => r.Registry.OpenAchievedPerSecond)):N0} | {Measurement.Median(Rounds.Select(r => r.Registry.OpenP50Ms)):0.0} / **{Measurement.Median(Rounds.Select(r => r.Registry.OpenP99Ms)):0.0}** / {Measurement.Median(Rounds.Select(r => r.Registry.OpenMaxMs)):0.0} | | | {Measurement.Median(Rounds.Select(r => r.RegistryBytesPerConnection)):N0} | |");
        }
        return text.ToString();
    }

    private static void Row(StringBuilder text, int round, MqttLoadResult r, double? ratio, double bytes, GcPauseStats? brokerGc) =>
        text.AppendLine(CultureInfo.InvariantCulture,
            $"| {round} | {r.Target} | {r.ConnectSeconds:0.0} | {r.ClosedMessagesPerSecond:N0} | {(ratio is { } x ? x.ToString("0.00", CultureInfo.InvariantCulture) : "")} | {r.OpenAchievedPerSecond:N0} | {r.OpenP50Ms:0.0} / {r.OpenP99Ms:0.0} / {r.OpenMaxMs:0.0} | {Pauses(brokerGc)} | {Pauses(r.ClientGc)} | {bytes:N0} | {r.ConnectFailures + r.ClosedFailures + r.OpenFailures} |");

    private static string Pauses(GcPauseStats? gc) =>
        gc is null ? "" : string.Create(CultureInfo.InvariantCulture, $"{gc.Count}, {gc.TotalMs:0} ms, max {gc.MaxMs:0.0} ms");
}

/// <summary>
/// Issue 9's figure (c): MQTT device messages through the registry's edge against a bare MQTTnet broker in the same run.
/// This process hosts both brokers; the clients run in a child process so the memory per connection is the broker's.
/// </summary>
internal static class MqttBench
{
    private const string DeviceKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    public static async Task<MqttReport> RunAsync(MqttBenchOptions options, TextWriter progress, CancellationToken cancel)
    {
        var name = "mq" + Guid.NewGuid().ToString("N")[..8];
        var ports = BenchHost.FreePorts(3);
        var registry = await BenchHost.StartRegistryAsync(name, storage: null, authentication: true, certificate: null, partitions: null,
            new Dictionary<string, string?>
            {
                ["Registry:GatewayPort"] = ports[0].ToString(CultureInfo.InvariantCulture),
                ["Registry:MqttPort"] = ports[1].ToString(CultureInfo.InvariantCulture),
                ["Registry:MqttMaxConnections"] = (options.Connections + 100).ToString(CultureInfo.InvariantCulture),
                ["Registry:Authentication:TokenCacheSize"] = (options.Connections * 2).ToString(CultureInfo.InvariantCulture),
            });
        var loadBefore = Measurement.LoadAverage();
        MqttServer? bare = null;
        try
        {
            var prefix = $"{name}-";
            await FillAsync(ports[0], name, prefix, options.Connections, cancel);
            bare = await StartBareBrokerAsync(Path.Combine(registry.Certificates, DevelopmentCertificates.ServerFileName), ports[2]);

            var rounds = new List<MqttRound>();
            for (var round = 1; round <= options.Rounds && !cancel.IsCancellationRequested; round++)
            {
                var (bareResult, bareBytes, bareGc) = await LoadAsync("bare", ports[2], prefix, options, progress, cancel);
                var (registryResult, registryBytes, registryGc) = await LoadAsync("registry", ports[1], prefix, options, progress, cancel);
                var result = new MqttRound(bareResult, registryResult, bareBytes, registryBytes) { BareBrokerGc = bareGc, RegistryBrokerGc = registryGc };
                rounds.Add(result);
                progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"round {round}: bare {bareResult.ClosedMessagesPerSecond:N0}/s, registry {registryResult.ClosedMessagesPerSecond:N0}/s ({result.Ratio:0.00}), registry open p99 {registryResult.OpenP99Ms:0.0} ms (bare {bareResult.OpenP99Ms:0.0} ms); open-phase GC: registry broker {registryGc}, its load generator {registryResult.ClientGc}; bare broker {bareGc}, its load generator {bareResult.ClientGc}; load {Measurement.LoadAverage()}"));
            }
            return new MqttReport(options, rounds, loadBefore, Measurement.LoadAverage());
        }
        finally
        {
            if (bare is not null)
            {
                await bare.StopAsync();
                bare.Dispose();
            }
            await registry.StopAsync();
        }
    }

    /// <summary>
    /// The MQTT ceiling: a bare MQTTnet broker on loopback with the registry's TLS certificate, accepting any client
    /// and dropping every publish (the registry's edge authenticates and records a heartbeat instead).
    /// </summary>
    internal static async Task<MqttServer> StartBareBrokerAsync(string pfxPath, int port)
    {
        var certificate = X509CertificateLoader.LoadPkcs12FromFile(pfxPath, null);
        var bare = new MqttServerFactory().CreateMqttServer(new MqttServerOptionsBuilder()
            .WithoutDefaultEndpoint()
            .WithEncryptedEndpoint()
            .WithEncryptedEndpointBoundIPAddress(IPAddress.Loopback)
            .WithEncryptedEndpointPort(port)
            .WithEncryptionCertificate(certificate)
            .WithConnectionBacklog(4096)
            .Build());
        bare.InterceptingPublishAsync += e =>
        {
            e.ProcessPublish = false;
            return Task.CompletedTask;
        };
        await bare.StartAsync();
        return bare;
    }

    /// <summary>Registers the devices through an Orleans client, all with one known key (the benchmark signs their tokens).</summary>
    private static async Task FillAsync(int gatewayPort, string name, string prefix, int count, CancellationToken cancel)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.UseOrleansClient(client => client.UseLocalhostClustering(gatewayPort, "bench-" + name, "bench-" + name));
        using var host = builder.Build();
        await host.StartAsync(cancel);
        var grains = host.Services.GetRequiredService<IClusterClient>();
        var auth = new AuthenticationMechanism(AuthenticationType.Sas, new SymmetricKey(DeviceKey, DeviceKey), null);
        var chunks = Enumerable.Range(0, count).Select(i => $"{prefix}{i:D6}").Chunk(RegistryLimits.MaxBulkOperations);
        await Parallel.ForEachAsync(chunks, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancel }, async (chunk, _) =>
        {
            var result = await grains.GetGrain<IDeviceRegistryGrain>(0).ApplyBulk(chunk
                .Select(id => new BulkOperation(ImportMode.Create, new DeviceIdentityInput { DeviceId = id, Authentication = auth }, null)).ToArray());
            if (!result.IsSuccessful)
            {
                throw new InvalidOperationException($"The fill failed: {result.Errors[0].DeviceId} {result.Errors[0].ErrorCode}.");
            }
        });
        await host.StopAsync(CancellationToken.None);
    }

    /// <summary>This process's GC pauses, read over each open phase.</summary>
    private static readonly GcPauses BrokerGc = new();

    private static async Task<(MqttLoadResult Result, double BytesPerConnection, GcPauseStats BrokerGc)> LoadAsync(
        string target, int port, string prefix, MqttBenchOptions options, TextWriter progress, CancellationToken cancel)
    {
        var before = Measurement.Rss();
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
        {
            typeof(MqttBench).Assembly.Location, "mqtt-load", "--target", target, "--port", port.ToString(CultureInfo.InvariantCulture),
            "--connections", options.Connections.ToString(CultureInfo.InvariantCulture), "--prefix", prefix, "--key", DeviceKey,
            "--host-name", "localhost", "--seconds", options.PhaseTime.TotalSeconds.ToString(CultureInfo.InvariantCulture),
            "--rate", options.Rate.ToString(CultureInfo.InvariantCulture), "--payload", options.Payload.ToString(CultureInfo.InvariantCulture),
        })
        {
            start.ArgumentList.Add(arg);
        }
        start.Environment["DOTNET_gcServer"] = options.ClientGc == "server" ? "1" : "0";
        using var child = Process.Start(start) ?? throw new InvalidOperationException("Cannot start the load generator.");
        try
        {
            var line = await child.StandardOutput.ReadLineAsync(cancel);
            if (line != "connected")
            {
                throw new InvalidOperationException($"The load generator for {target} said '{line}' instead of 'connected'.");
            }
            var bytes = (double)(Measurement.Rss() - before) / options.Connections;
            progress.WriteLine($"{target}: {options.Connections:N0} connected, {bytes:N0} B per connection in the broker's process");
            await child.StandardInput.WriteLineAsync("go");
            await child.StandardInput.FlushAsync(cancel);
            string? json;
            while ((json = await child.StandardOutput.ReadLineAsync(cancel)) is not null && !json.StartsWith('{'))
            {
                if (json == "open")
                {
                    BrokerGc.Take();
                }
            }
            var brokerGc = BrokerGc.Take();
            await child.WaitForExitAsync(cancel);
            var result = JsonSerializer.Deserialize<MqttLoadResult>(json ?? throw new InvalidOperationException($"The load generator for {target} printed no result."))!;
            return (result, bytes, brokerGc);
        }
        finally
        {
            if (!child.HasExited)
            {
                child.Kill(entireProcessTree: true);
            }
        }
    }
}
