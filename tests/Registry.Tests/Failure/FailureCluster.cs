using System.Diagnostics;
using System.Net;
using Registry.Abstractions;
using Registry.Gateway.Security;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Failure;

/// <summary>
/// A cluster of real processes to break: silos this class starts itself (so it knows each one's ports and can start it
/// again on the same ports and data folder, as an operator restarts a machine), gateways and a client app from
/// <see cref="RegistryClusterProcesses"/>. Each instance is a cluster of its own (its own ClusterId/ServiceId and storage
/// prefix). Every process it starts serves its own <c>/metrics</c> on a management port, as an operator's do, for a
/// <see cref="ClusterDashboard"/> to watch. A kill is <c>kill -9</c> by the process id it holds; whatever it started it
/// ends by that id.
/// </summary>
public sealed class FailureCluster(string connectionString, params string[] extraArguments) : IAsyncDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("registry-failure-").FullName;
    private readonly List<RegistryProcess> _silos = [];
    private readonly List<GatewayProcess> _gateways = [];

    public RegistryClusterProcesses Processes { get; } = new(connectionString, [.. FailureSteps.FastFailureDetection, .. extraArguments]);

    /// <summary>The silo processes started so far, killed ones included, in start order.</summary>
    public IReadOnlyList<RegistryProcess> StartedSilos => _silos;

    /// <summary>Everything every silo process (killed ones included) printed, for the alerts they logged.</summary>
    public string SiloOutput => string.Join('\n', _silos.Select(s => s.Output));

    /// <summary>Starts a silo on fresh ports and returns once it logged that it listens.</summary>
    public Task<Silo> StartSiloAsync(CancellationToken ct)
    {
        var ports = FreePorts.Take(4);
        return StartSiloAsync(new Silo(Path.Combine(_work, $"silo-{ports[0]}"), ports[0], ports[1], ports[2], ports[3]), ct);
    }

    /// <summary>Starts (again) the silo <paramref name="silo"/> names, on its ports and data folder.</summary>
    public async Task<Silo> StartSiloAsync(Silo silo, CancellationToken ct)
    {
        var process = RegistryProcess.Start(_work,
        [
            .. Processes.CommonArguments,
            "--Registry:Role=silo",
            $"--Registry:DataFolder={silo.DataFolder}",
            $"--Registry:SiloPort={silo.SiloPort}",
            $"--Registry:GatewayPort={silo.GatewayPort}",
            $"--Registry:HealthPort={silo.HealthPort}",
            $"--Registry:Observability:Port={silo.ManagementPort}",
        ]);
        _silos.Add(process);
        await process.WaitUntilListeningAsync(ct);
        return silo with { Process = process };
    }

    /// <summary>
    /// Starts a gateway process (see <see cref="RegistryClusterProcesses.StartGatewayAsync"/>) with its management port,
    /// its output kept with the silos'.
    /// </summary>
    public async Task<GatewayProcess> StartGatewayAsync(CancellationToken ct)
    {
        var gateway = await Processes.StartGatewayAsync(ct, observed: true);
        _gateways.Add(gateway);
        return gateway;
    }

    /// <summary>An HttpClient of <paramref name="gateway"/> signed with the cluster's owner key, over HTTP/2 (many devices, few connections).</summary>
    public async Task<HttpClient> OwnerAsync(GatewayProcess gateway, CancellationToken ct)
    {
        var owner = await Processes.PolicyAsync(SharedAccessPolicy.OwnerKeyName, ct);
        var http = gateway.Client(owner.KeyName, owner.PrimaryKey);
        http.DefaultRequestVersion = HttpVersion.Version20;
        http.DefaultVersionPolicy = HttpVersionPolicy.RequestVersionOrHigher;
        http.Timeout = TimeSpan.FromSeconds(90); // a hang fails the test instead of holding it
        return http;
    }

    /// <summary><c>kill -9</c> of <paramref name="process"/> by its id; returns once it has exited.</summary>
    public static async Task KillAsync(RegistryProcess process, CancellationToken ct)
    {
        using (var os = Process.GetProcessById(process.Id))
        {
            os.Kill();
        }
        await process.WaitForExitAsync(ct);
    }

    /// <summary>The silo (by its silo port) that hosts <paramref name="grain"/> now, activating it if needed.</summary>
    public static async Task<int> SiloPortOf(IClusterClient client, IAddressable grain) =>
        (await client.GetGrain<IManagementGrain>(0).GetActivationAddress(grain))?.Endpoint.Port ?? -1;

    /// <summary>How many "heartbeatMissed" alerts the silos logged for <paramref name="deviceId"/>.</summary>
    public int MissedAlertsFor(string deviceId) =>
        CountOf(SiloOutput, $"Heartbeat alert {RegistryEventTypes.HeartbeatMissed} for device {deviceId}");

    /// <summary>
    /// The device of every "heartbeatMissed" alert <paramref name="process"/> logged, once per alert: what its
    /// <c>registry_heartbeat_alerts_total{alert="missed"}</c> counted, by device.
    /// </summary>
    public static List<string> MissedAlertsLoggedBy(RegistryProcess process)
    {
        var prefix = $"Heartbeat alert {RegistryEventTypes.HeartbeatMissed} for device ";
        var output = process.Output;
        var devices = new List<string>();
        for (var at = output.IndexOf(prefix, StringComparison.Ordinal); at >= 0; at = output.IndexOf(prefix, at + prefix.Length, StringComparison.Ordinal))
        {
            var start = at + prefix.Length;
            var end = output.IndexOfAny(['\n', '\r'], start);
            devices.Add(output[start..(end < 0 ? output.Length : end)]);
        }
        return devices;
    }

    private static int CountOf(string text, string line)
    {
        var count = 0;
        for (var at = text.IndexOf(line, StringComparison.Ordinal); at >= 0; at = text.IndexOf(line, at + line.Length, StringComparison.Ordinal))
        {
            // The id is followed by the end of the line, never by more of a longer id.
            if (at + line.Length == text.Length || text[at + line.Length] is '\n' or '\r')
            {
                count++;
            }
        }
        return count;
    }

    /// <summary>Every process's output, for reading after a failed run: <c>TestResults/failure-logs/&lt;ClusterId&gt;/</c>.</summary>
    private void SaveOutputs()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Registry.Orleans.sln")))
        {
            dir = dir.Parent;
        }
        if (dir is null)
        {
            return;
        }
        var logs = Directory.CreateDirectory(Path.Combine(dir.FullName, "TestResults", "failure-logs", Processes.ClusterId)).FullName;
        for (var i = 0; i < _silos.Count; i++)
        {
            File.WriteAllText(Path.Combine(logs, $"silo-{i}.log"), _silos[i].Output);
        }
        for (var i = 0; i < _gateways.Count; i++)
        {
            File.WriteAllText(Path.Combine(logs, $"gateway-{i}.log"), _gateways[i].Process.Output);
        }
    }

    public async ValueTask DisposeAsync()
    {
        SaveOutputs();
        // Gateways and the client app first (a client outliving its silos only retries), then every silo by its id.
        await Processes.DisposeAsync();
        foreach (var silo in Enumerable.Reverse(_silos))
        {
            await silo.DisposeAsync();
        }
    }
}

/// <summary>
/// A silo of a <see cref="FailureCluster"/>: where it keeps its data and listens (its management port serving its own
/// <c>/metrics</c>, as an operator's silos do), and its current process.
/// </summary>
public sealed record Silo(string DataFolder, int SiloPort, int GatewayPort, int HealthPort, int ManagementPort)
{
    public RegistryProcess Process { get; init; } = null!;
}
