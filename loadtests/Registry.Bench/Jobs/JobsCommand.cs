using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Registry.Bench.Scale;

namespace Registry.Bench.Jobs;

/// <summary>
/// The <c>jobs</c> command: issue 10's figures. Each round starts its own in-memory Azurite and a durable registry
/// process on it, imports <c>--devices</c> devices from a devices.txt blob, exports them, then measures on the same
/// Azurite what storage alone does with the same rows and bytes (the ceilings), and prints every figure as a ratio to
/// its ceiling of the same round. Usage:
///   dotnet loadtests/Registry.Bench/bin/Release/net10.0/Registry.Bench.dll jobs [--devices 100000] [--rounds 3]
///       [--ceiling-parallelism 16] [--job-minutes 30] [--host path/to/Registry.Host.dll] [--set Key=Value ...]
/// The registry runs with <c>Registry:DeviceStorage=Batched</c> unless <c>--set</c> says otherwise: its rows share a
/// PartitionKey per index partition, the layout a range scan and entity-group transactions can use.
/// </summary>
internal static class JobsCommand
{
    private sealed record Phase(string Name, TimeSpan Elapsed, long PeakRss, double LoadMin, double LoadMax, double RegistryCpu, double AzuriteCpu, string Note);

    /// <summary>One round; <see cref="Done"/> is the devices the registry stored (fewer than asked when a job hit --job-minutes).</summary>
    private sealed record Round(Phase Import, Phase Export, TimeSpan ImportCeiling, TimeSpan ScanCeiling, TimeSpan UploadCeiling, long Done);

    public static async Task<int> RunAsync(string[] args)
    {
        BenchArgs.Check("jobs", args, ["--devices", "--rounds", "--ceiling-parallelism", "--job-minutes", "--host", "--set"], []);
        string? Value(string name) => BenchArgs.Value(args, name);
        int Int(string name, int fallback) => Value(name) is { } v ? BenchArgs.Int(name, v) : fallback;
        var devices = Int("--devices", 100_000);
        var rounds = Int("--rounds", 1);
        var parallelism = Int("--ceiling-parallelism", 16);
        var jobLimit = TimeSpan.FromMinutes(Int("--job-minutes", 30));
        var settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase) { ["Registry:DeviceStorage"] = "Batched" };
        foreach (var (key, value) in BenchArgs.Settings(args))
        {
            settings[key] = value;
        }
        var partitions = settings.TryGetValue("Registry:IndexPartitions", out var p) && p is not null ? int.Parse(p, CultureInfo.InvariantCulture) : 256;

        var input = Path.Combine(Path.GetTempPath(), $"registry-jobs-bench-{Guid.NewGuid():N}.txt");
        var inputBytes = RegistryJob.WriteDevices(input, devices);
        Console.WriteLine($"jobs: {devices:N0} devices ({inputBytes / 1e6:F1} MB of devices.txt), {rounds} round(s), ceilings {parallelism} requests in flight, {Environment.ProcessorCount} cores, {partitions} index partitions{string.Concat(settings.Select(kv => $"; {kv.Key}={kv.Value}"))}");

        var results = new List<Round>();
        var failures = 0;
        try
        {
            for (var round = 1; round <= rounds; round++)
            {
                var (result, failed) = await RunRoundAsync(round, devices, input, settings, partitions, parallelism, jobLimit, Value("--host"));
                failures += failed;
                results.Add(result);
                Print($"round {round}", result);
            }
        }
        finally
        {
            File.Delete(input);
        }

        Console.WriteLine();
        Console.WriteLine($"| figure ({devices:N0} devices asked, median of {results.Count}) | wall | devices/s | ceiling wall | ratio to ceiling | peak RSS | load average (1 min) | registry / Azurite CPU s |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var (name, job, ceiling) in new (string, Func<Round, Phase>, Func<Round, TimeSpan>)[]
        {
            ("import", r => r.Import, r => r.ImportCeiling),
            ("export", r => r.Export, r => r.ScanCeiling + r.UploadCeiling),
        })
        {
            var wall = Measurement.Median(results.Select(r => job(r).Elapsed.TotalSeconds));
            var ceil = Measurement.Median(results.Select(r => ceiling(r).TotalSeconds));
            var ratio = Measurement.Median(results.Select(r => ceiling(r).TotalSeconds / job(r).Elapsed.TotalSeconds));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {name} | {wall:F1} s | {Measurement.Median(results.Select(r => r.Done / job(r).Elapsed.TotalSeconds)):N0} | {ceil:F1} s | {ratio:F2} (rounds {string.Join(", ", results.Select(r => (ceiling(r).TotalSeconds / job(r).Elapsed.TotalSeconds).ToString("F2", CultureInfo.InvariantCulture)))}) | {results.Max(r => job(r).PeakRss) / 1e6:N0} MB | {results.Min(r => job(r).LoadMin):F1}–{results.Max(r => job(r).LoadMax):F1} | {Measurement.Median(results.Select(r => job(r).RegistryCpu)):F0} / {Measurement.Median(results.Select(r => job(r).AzuriteCpu)):F0} |"));
        }
        Console.WriteLine(failures == 0 ? "every job completed with every device" : $"{failures} check(s) failed (see above)");
        return failures == 0 ? 0 : 1;
    }

    private static void Print(string label, Round r)
    {
        foreach (var (phase, ceiling, parts) in new[]
        {
            (r.Import, r.ImportCeiling, $"EGT inserts of the same rows {r.ImportCeiling.TotalSeconds:F1} s"),
            (r.Export, r.ScanCeiling + r.UploadCeiling, $"range scans {r.ScanCeiling.TotalSeconds:F1} s + block upload {r.UploadCeiling.TotalSeconds:F1} s"),
        })
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{label} {phase.Name}: {r.Done:N0} devices in {phase.Elapsed.TotalSeconds:F1} s, {r.Done / phase.Elapsed.TotalSeconds:N0} devices/s; ceiling ({parts}) {r.Done / ceiling.TotalSeconds:N0} devices/s; ratio {ceiling.TotalSeconds / phase.Elapsed.TotalSeconds:F2}; peak RSS {phase.PeakRss / 1e6:N0} MB; load {phase.LoadMin:F1}–{phase.LoadMax:F1}; CPU s registry {phase.RegistryCpu:F0}, Azurite {phase.AzuriteCpu:F0} of {phase.Elapsed.TotalSeconds * Environment.ProcessorCount:F0} on the machine{phase.Note}"));
        }
    }

    private static async Task<(Round, int Failures)> RunRoundAsync(int round, int devices, string input, Dictionary<string, string?> settings, int partitions, int parallelism, TimeSpan jobLimit, string? host)
    {
        var failures = 0;
        await using var azurite = await AzuriteProcess.StartAsync(CancellationToken.None);
        var name = $"j{round}{Guid.NewGuid():N}"[..10];
        var blobs = new BlobServiceClient(azurite.ConnectionString);
        var inputContainer = blobs.GetBlobContainerClient("input");
        var outputContainer = blobs.GetBlobContainerClient("output");
        var ceilingContainer = blobs.GetBlobContainerClient("ceiling");
        foreach (var c in new[] { inputContainer, outputContainer, ceilingContainer })
        {
            await c.CreateAsync();
        }
        await inputContainer.GetBlobClient("devices.txt").UploadAsync(input, new Azure.Storage.Blobs.Models.BlobUploadOptions
        {
            TransferOptions = new Azure.Storage.StorageTransferOptions { MaximumConcurrency = 4, MaximumTransferSize = 4 << 20 },
        });
        var inputSas = RegistryJob.InputSas(inputContainer);
        var outputSas = RegistryJob.OutputSas(outputContainer);

        Phase import, export;
        await using (var registry = await RegistryProcess.StartAsync(name, azurite.ConnectionString, settings, host, CancellationToken.None))
        {
            Console.WriteLine($"round {round}: registry process {registry.ProcessId} (log {registry.LogPath}), Azurite process {azurite.ProcessId}");
            using var http = BenchHost.CreateClient(registry.CaPath, 4);
            import = await RunJobAsync(http, registry, azurite.ProcessId, "import", new JsonObject
            {
                ["type"] = "import",
                ["inputBlobContainerUri"] = inputSas,
                ["outputBlobContainerUri"] = outputSas,
            }, jobLimit);
            var errorLog = outputContainer.GetBlobClient("importErrors.log");
            var errorBytes = (await errorLog.ExistsAsync()).Value ? (await errorLog.GetPropertiesAsync()).Value.ContentLength : -1;
            if (errorBytes != 0 || import.Note.Length > 0)
            {
                failures++;
                import = import with { Note = $"{import.Note}; importErrors.log {errorBytes} bytes (expected empty)" };
            }

            export = await RunJobAsync(http, registry, azurite.ProcessId, "export", new JsonObject
            {
                ["type"] = "export",
                ["outputBlobContainerUri"] = outputSas,
                ["excludeKeysInExport"] = false,
            }, jobLimit);
        }

        // The exported bytes, read back untimed: the upload ceiling stages the same bytes.
        var exportBlob = outputContainer.GetBlobClient("devices.txt");
        var exported = (await exportBlob.ExistsAsync()).Value ? (await exportBlob.DownloadContentAsync()).Value.Content.ToMemory() : ReadOnlyMemory<byte>.Empty;
        var lines = exported.Span.Count((byte)'\n');
        if (lines != devices)
        {
            failures++;
            export = export with { Note = $"{export.Note}; exported {lines:N0} lines, expected {devices:N0}" };
        }

        var tables = new TableServiceClient(azurite.ConnectionString);
        var prefix = "bench" + name;
        var groups = new Registry.Host.StorageGroups(settings.TryGetValue("Registry:StorageGroups", out var g) && g is not null
            ? int.Parse(g, CultureInfo.InvariantCulture) : Registry.Host.StorageGroups.DefaultCount);
        var tableCount = settings.TryGetValue("Registry:StorageTables", out var t) && t is not null
            ? int.Parse(t, CultureInfo.InvariantCulture) : Registry.Host.StorageTables.DefaultCount;
        var (scan, rows) = await JobCeilings.ScanAsync(Registry.Host.StorageTables.Of(tables, prefix + "DeviceRows", tableCount), groups, partitions, parallelism);
        var scanned = rows.Sum(r => r.Count);
        if (scanned != devices)
        {
            Console.WriteLine($"warning: the range scans read {scanned:N0} device rows, expected {devices:N0}: the round's figures are per device stored");
        }
        var upload = await JobCeilings.UploadAsync(ceilingContainer, "devices.txt", exported, 4 << 20, parallelism);

        // Storage as it was when the import started (the input blob only), so the insert ceiling meets the same Azurite.
        await outputContainer.DeleteAsync();
        foreach (var table in new[] { "DeviceRows", "Index" }.SelectMany(kind => Registry.Host.StorageTables.Of(tables, prefix + kind, tableCount).All))
        {
            await table.DeleteAsync();
        }
        var insert = await JobCeilings.InsertAsync(tables, "ceil" + name, rows, parallelism, tableCount);
        return (new Round(import, export, insert, scan, upload, scanned), failures);
    }

    /// <summary>Creates the job and polls it to its end, sampling the registry's RSS, its and Azurite's CPU, and the load average meanwhile.</summary>
    private static async Task<Phase> RunJobAsync(HttpClient http, RegistryProcess registry, int azuritePid, string name, JsonObject body, TimeSpan limit)
    {
        var cpuBefore = (Registry: RegistryProcess.CpuSeconds(registry.ProcessId), Azurite: RegistryProcess.CpuSeconds(azuritePid));
        var storageBefore = await registry.StorageCountersAsync();
        long peak = registry.Rss();
        double loadMin = double.MaxValue, loadMax = 0;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            var ticks = 0;
            while (!sampling.IsCancellationRequested)
            {
                peak = Math.Max(peak, registry.Rss());
                if (ticks++ % 10 == 0)
                {
                    var load = double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture);
                    loadMin = Math.Min(loadMin, load);
                    loadMax = Math.Max(loadMax, load);
                }
                try
                {
                    await Task.Delay(200, sampling.Token); // a sampling period, not synchronisation
                }
                catch (OperationCanceledException)
                {
                }
            }
        });

        var stopwatch = Stopwatch.StartNew();
        var lastProgress = -1;
        var job = await RegistryJob.RunAsync(http, registry.BaseAddress, body, limit, (status, at) =>
        {
            var progress = (int)status["progress"]!;
            if (progress / 10 != lastProgress / 10)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {name} {progress}% at {at.TotalSeconds:F0} s, registry RSS {registry.Rss() / 1e6:N0} MB"));
                lastProgress = progress;
            }
        }, CancellationToken.None);
        var elapsed = stopwatch.Elapsed;
        await sampling.CancelAsync();
        await sampler;
        var status = (string)job["status"]!;
        var note = status == "completed" ? "" : $"; {name} ended {status} at {job["progress"]}%: {job["failureReason"]}";
        // Rows per storage request: how full the group commits were (100 at best, an entity-group transaction's limit).
        var storage = string.Join(", ", (await registry.StorageCountersAsync()).OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv =>
        {
            var before = storageBefore.GetValueOrDefault(kv.Key);
            var (writes, requests) = (kv.Value.Writes - before.Writes, kv.Value.Requests - before.Requests);
            return string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {writes:N0} rows in {requests:N0} requests ({(requests > 0 ? writes / requests : 0):F1} a request)");
        }));
        Console.WriteLine($"  {name} storage: {(storage.Length > 0 ? storage : "no group-committed writes")}");
        return new Phase(name, elapsed, peak, loadMin, loadMax,
            RegistryProcess.CpuSeconds(registry.ProcessId) - cpuBefore.Registry, RegistryProcess.CpuSeconds(azuritePid) - cpuBefore.Azurite, note);
    }
}
