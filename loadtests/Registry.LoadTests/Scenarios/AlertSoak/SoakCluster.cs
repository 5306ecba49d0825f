using System.Diagnostics;
using System.Globalization;
using Registry.Bench;
using Registry.Bench.Scale;
using Registry.Client;

namespace Registry.LoadTests.Scenarios.AlertSoak;

/// <summary>
/// The alert soak's durable two-silo cluster, as an operator runs one: an Azurite of its own (tests/node's pinned one,
/// in memory) and two <c>Registry.Host</c> processes with <c>Registry:Role=silo</c> on it, so one of them can be killed
/// by its process id mid-soak. Each silo's output goes to a log file beside the report's temporary folder. Everything
/// it started it stops by process id.
/// </summary>
internal sealed class SoakCluster : IAsyncDisposable
{
    private readonly AzuriteProcess _azurite;
    private readonly List<SiloProcess> _silos = [];

    private SoakCluster(AzuriteProcess azurite, string work, string name)
    {
        _azurite = azurite;
        Work = work;
        Name = name;
    }

    /// <summary>Cluster id, service id and storage prefix alike.</summary>
    public string Name { get; }

    /// <summary>Where the silos keep their data folders and logs.</summary>
    public string Work { get; }

    public IReadOnlyList<SiloProcess> Silos => _silos;

    /// <summary>What a client app sets to reach this cluster and its event stream (Registry.Client).</summary>
    public RegistryClientOptions ClientOptions => new()
    {
        StorageConnectionString = _azurite.ConnectionString,
        ClusterId = Name,
        ServiceId = Name,
        StoragePrefix = Name,
        Events = true,
    };

    /// <summary>Starts Azurite and <paramref name="silos"/> silos with <paramref name="settings"/>, each waited for (bounded).</summary>
    public static async Task<SoakCluster> StartAsync(int silos, IReadOnlyDictionary<string, string> settings, Action<string> log, CancellationToken cancel)
    {
        var azurite = await AzuriteProcess.StartAsync(cancel);
        var cluster = new SoakCluster(azurite, Directory.CreateTempSubdirectory("registry-alert-soak-").FullName, "soak" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            log($"Azurite (pid {azurite.ProcessId}) started; silos' data and logs in {cluster.Work}");
            for (var i = 0; i < silos; i++)
            {
                var silo = cluster.StartSilo(i, settings);
                cluster._silos.Add(silo);
                await silo.WaitUntilListeningAsync(cancel);
                log($"silo {i} (pid {silo.ProcessId}, silo port {silo.SiloPort}) listening");
            }
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    private SiloProcess StartSilo(int index, IReadOnlyDictionary<string, string> settings)
    {
        var ports = BenchHost.FreePorts(3);
        var folder = Path.Combine(Work, $"silo-{index}");
        var arguments = new Dictionary<string, string>(settings)
        {
            ["Registry:Role"] = "silo",
            ["Registry:StorageConnectionString"] = _azurite.ConnectionString,
            ["Registry:ClusterId"] = Name,
            ["Registry:ServiceId"] = Name,
            ["Registry:StoragePrefix"] = Name,
            ["Registry:DataFolder"] = folder,
            ["Registry:SiloPort"] = ports[0].ToString(CultureInfo.InvariantCulture),
            ["Registry:GatewayPort"] = ports[1].ToString(CultureInfo.InvariantCulture),
            ["Registry:HealthPort"] = ports[2].ToString(CultureInfo.InvariantCulture),
        };
        return SiloProcess.Start(Work, Path.Combine(Work, $"silo-{index}.log"), ports[0], arguments);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var silo in Enumerable.Reverse(_silos))
        {
            await silo.DisposeAsync();
        }
        await _azurite.DisposeAsync();
    }
}

/// <summary>A silo process of <see cref="SoakCluster"/>: the built <c>Registry.Host.dll</c>, configured by its arguments only.</summary>
internal sealed class SiloProcess : IAsyncDisposable
{
    /// <summary>What the host logs once it serves (RegistryHost's LogListening).</summary>
    private const string ListeningLine = "Registry listening on";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(2);

    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private SiloProcess(Process process, StreamWriter log, string logPath, int siloPort)
    {
        _process = process;
        _log = log;
        LogPath = logPath;
        SiloPort = siloPort;
    }

    public int ProcessId => _process.Id;

    public int SiloPort { get; }

    public string LogPath { get; }

    public static SiloProcess Start(string workingDirectory, string logPath, int siloPort, IReadOnlyDictionary<string, string> settings)
    {
        var dll = Path.Combine(BenchHost.RepositoryRoot(), "src", "Registry.Host", "bin", "Release", "net10.0", "Registry.Host.dll");
        if (!File.Exists(dll))
        {
            throw new InvalidOperationException($"{dll} is missing: build the solution in Release first.");
        }
        var psi = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            // Held by this process for the silo's life: if the harness dies, even by kill -9, the silo stops (below).
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(dll);
        foreach (var (key, value) in settings)
        {
            psi.ArgumentList.Add($"--{key}={value}");
        }
        psi.ArgumentList.Add("--Registry:StopWhenInputEnds=true");
        // Only the arguments configure it: nothing inherited from the harness's environment.
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("Registry__", StringComparison.OrdinalIgnoreCase) || k is "DOTNET_ENVIRONMENT" or "ASPNETCORE_ENVIRONMENT").ToList())
        {
            psi.Environment.Remove(key);
        }
        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var log = new StreamWriter(logPath) { AutoFlush = true };
        var silo = new SiloProcess(process, log, logPath, siloPort);
        DataReceivedEventHandler append = (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }
            lock (log)
            {
                log.WriteLine(e.Data);
            }
            if (e.Data.Contains(ListeningLine, StringComparison.Ordinal))
            {
                silo._listening.TrySetResult();
            }
        };
        process.OutputDataReceived += append;
        process.ErrorDataReceived += append;
        process.Exited += (_, _) => silo._listening.TrySetException(new InvalidOperationException($"the silo exited before it listened; see {logPath}"));
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return silo;
    }

    public Task WaitUntilListeningAsync(CancellationToken cancel) => _listening.Task.WaitAsync(StartTimeout, cancel);

    /// <summary><c>kill -9</c> by process id, as a machine dies: no shutdown, nothing written.</summary>
    public async Task KillAsync()
    {
        _process.Kill();
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // exited between the check and the kill
        }
        await _process.WaitForExitAsync();
        _process.Dispose();
        lock (_log)
        {
            _log.Dispose();
        }
    }
}
