using System.Diagnostics;
using System.Globalization;
using Registry.Host;

namespace Registry.Bench.Jobs;

/// <summary>
/// The registry host as a process of its own (the built Registry.Host.dll), so its resident memory is the registry's
/// alone and not the benchmark's, which holds a million rows for the ceilings. Stopped by its process id, and killed
/// when this process exits or is aborted before stopping it (<see cref="KillAll"/>; the host does not watch its console
/// input). A kill -9 of this process still leaves it running: its id is in the run's log.
/// </summary>
internal sealed class RegistryProcess : IAsyncDisposable
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<RegistryProcess, byte> Running = new();

    static RegistryProcess() => AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();

    /// <summary>
    /// Kills every registry process started and not yet stopped: on the way out of an aborted run (a signal's default
    /// action ends this process without <see cref="AppDomain.ProcessExit"/>, so the harness calls this first).
    /// </summary>
    public static void KillAll()
    {
        foreach (var registry in Running.Keys)
        {
            try
            {
                registry._process.Kill(entireProcessTree: true);
            }
            catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                // already ended
            }
        }
    }

    private readonly Process _process;

    private RegistryProcess(Process process, string dataFolder, string baseAddress, string logPath, int metricsPort)
    {
        LogPath = logPath;
        MetricsAddress = $"http://127.0.0.1:{metricsPort}/metrics";
        _process = process;
        DataFolder = dataFolder;
        BaseAddress = baseAddress;
    }

    public string DataFolder { get; }

    /// <summary>The host's console output (Warning and above).</summary>
    public string LogPath { get; }

    public string BaseAddress { get; }

    /// <summary>The host's Prometheus scrape endpoint (its management port).</summary>
    public string MetricsAddress { get; }

    /// <summary>
    /// The group-committing stores' counters now, by store: rows asked to be written and the storage requests they took
    /// (<c>registry_storage_writes_total</c>, <c>registry_storage_requests_total</c>).
    /// </summary>
    public async Task<Dictionary<string, (double Writes, double Requests)>> StorageCountersAsync()
    {
        using var http = new HttpClient();
        var text = await http.GetStringAsync(MetricsAddress);
        var counters = new Dictionary<string, (double Writes, double Requests)>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            var writes = line.StartsWith("registry_storage_writes_total{", StringComparison.Ordinal);
            if (!writes && !line.StartsWith("registry_storage_requests_total{", StringComparison.Ordinal))
            {
                continue;
            }
            var store = line[(line.IndexOf("store=\"", StringComparison.Ordinal) + 7)..];
            store = store[..store.IndexOf('"', StringComparison.Ordinal)];
            var value = double.Parse(line[(line.LastIndexOf('}') + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
            var (w, r) = counters.GetValueOrDefault(store);
            counters[store] = writes ? (value, r) : (w, value);
        }
        return counters;
    }

    /// <summary>How long a stop may take before the process is killed.</summary>
    private static readonly TimeSpan GracefulStop = TimeSpan.FromSeconds(30);

    public int ProcessId => _process.Id;

    public string CaPath => Path.Combine(DataFolder, "certs", DevelopmentCertificates.CaFileName);

    public static async Task<RegistryProcess> StartAsync(string name, string storage, IReadOnlyDictionary<string, string?> settings, string? host, CancellationToken cancellation)
    {
        // --host runs a copy of the build, so the solution can be rebuilt while a long run uses it.
        var dll = host ?? Path.Combine(BenchHost.RepositoryRoot(), "src", "Registry.Host", "bin", "Release", "net10.0", "Registry.Host.dll");
        if (!File.Exists(dll))
        {
            throw new InvalidOperationException($"{dll} is missing: build the solution in Release first.");
        }
        var folder = Directory.CreateTempSubdirectory("registry-jobs-bench-").FullName;
        var ports = BenchHost.FreePorts(4);
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = folder,
        };
        psi.ArgumentList.Add(dll);
        var config = new Dictionary<string, string?>
        {
            ["Registry:DataFolder"] = folder,
            ["Registry:HttpsPort"] = ports[0].ToString(CultureInfo.InvariantCulture),
            ["Registry:SiloPort"] = ports[1].ToString(CultureInfo.InvariantCulture),
            ["Registry:GatewayPort"] = ports[2].ToString(CultureInfo.InvariantCulture),
            ["Registry:MqttPort"] = "0",
            ["Registry:Observability:Port"] = ports[3].ToString(CultureInfo.InvariantCulture),
            ["Registry:ClusterId"] = "bench-" + name,
            ["Registry:ServiceId"] = "bench-" + name,
            ["Registry:StoragePrefix"] = "bench" + name,
            ["Registry:StorageConnectionString"] = storage,
            // The jobs API is what is measured, not SAS checking (measured by the default command).
            ["Registry:Authentication:Enabled"] = "false",
            ["Logging:LogLevel:Default"] = "Warning",
            // This process holds its input: if it dies, even by kill -9, the registry stops instead of running on.
            ["Registry:StopWhenInputEnds"] = "true",
        };
        foreach (var (key, value) in settings)
        {
            config[key] = value;
        }
        foreach (var (key, value) in config)
        {
            psi.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }
        var process = Process.Start(psi) ?? throw new InvalidOperationException("Cannot start the registry host.");
        // Beside the data folder, not in it: the log outlives the run, for its warnings.
        var logPath = Path.Combine(Path.GetTempPath(), $"registry-jobs-bench-{name}.log");
        var log = new StreamWriter(logPath) { AutoFlush = true };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (log) { log.WriteLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (log) { log.WriteLine(e.Data); } } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var registry = new RegistryProcess(process, folder, $"https://127.0.0.1:{ports[0]}", logPath, ports[3]);
        Running.TryAdd(registry, 0);
        try
        {
            await registry.WaitReadyAsync(cancellation);
            return registry;
        }
        catch
        {
            await registry.DisposeAsync();
            throw;
        }
    }

    private async Task WaitReadyAsync(CancellationToken cancellation)
    {
        using var ready = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        ready.CancelAfter(TimeSpan.FromMinutes(2));
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"The registry exited with code {_process.ExitCode} while starting; see {LogPath}.");
            }
            if (File.Exists(CaPath))
            {
                try
                {
                    using var http = BenchHost.CreateClient(CaPath, 1);
                    using var response = await http.GetAsync($"{BaseAddress}/statistics/devices?api-version=2021-04-12", ready.Token);
                    if (response.IsSuccessStatusCode)
                    {
                        return;
                    }
                }
                catch (Exception e) when (e is HttpRequestException or System.Security.Cryptography.CryptographicException)
                {
                    // not listening yet, or the CA file seen while the host was still writing it
                }
            }
            await Task.Delay(250, ready.Token); // polling the host's start-up, not synchronisation
        }
    }

    /// <summary>Resident memory now (VmRSS), in bytes.</summary>
    public long Rss() => ProcStatus(_process.Id, "VmRSS:");

    /// <summary>utime + stime in seconds (Linux clock ticks of 1/100 s).</summary>
    public static double CpuSeconds(int pid)
    {
        if (!File.Exists($"/proc/{pid}/stat"))
        {
            return 0;
        }
        var fields = File.ReadAllText($"/proc/{pid}/stat").Split(')')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return (double.Parse(fields[11], CultureInfo.InvariantCulture) + double.Parse(fields[12], CultureInfo.InvariantCulture)) / 100;
    }

    public static long ProcStatus(int pid, string field)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith(field, StringComparison.Ordinal))
                {
                    return long.Parse(line[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
                }
            }
        }
        catch (IOException)
        {
            // the process ended
        }
        return 0;
    }

    public async ValueTask DisposeAsync()
    {
        // Stopped as an operator stops it (SIGTERM: the host shuts down and removes its diagnostic pipes); killed only
        // if it has not ended within the bound.
        try
        {
            if (!_process.HasExited)
            {
                using var term = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]);
                await term.WaitForExitAsync();
            }
            using var bounded = new CancellationTokenSource(GracefulStop);
            await _process.WaitForExitAsync(bounded.Token);
        }
        catch (OperationCanceledException)
        {
            try
            {
                _process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // exited between the bound and the kill
            }
        }
        await _process.WaitForExitAsync();
        Running.TryRemove(this, out _);
        _process.Dispose();
        try
        {
            Directory.Delete(DataFolder, recursive: true);
        }
        catch (IOException)
        {
            // the log may still be open for a moment; a temp folder left behind is harmless
        }
    }
}
