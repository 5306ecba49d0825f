using System.Text;
using Azure.Data.Tables;
using Registry.Host;

namespace Registry.Bench;

/// <summary>
/// The default command: registry throughput against its ceilings, measured in one process and one run so the ratios hold
/// on a noisy machine: a no-op Kestrel endpoint (HTTP ceiling) and a raw Azure Table insert (storage ceiling), alternated
/// with the registry's GET and create over HTTPS. Requests carry one owner SAS token for the whole run, as the C# SDK
/// reuses its token; --no-auth turns the registry's authentication off. A second registry with authentication off serves
/// the same GETs in every round (registry-get-noauth), so the cost of SAS checking is measured in the same run.
/// Ctrl+C or SIGTERM ends the run after the phase under way: the round it interrupts is dropped, the rounds done are
/// reported, and the registries (and the raw-insert table) are cleaned up; exit code 130.
/// </summary>
internal static class RegistryBenchCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        var options = BenchOptions.Parse(args);
        using var stop = new BenchStop("ending after the phase under way, dropping its round, then reporting the rounds done");
        var runId = Guid.NewGuid().ToString("N")[..8];

        var owned = await BenchHost.StartRegistryAsync("a" + runId, options.Storage, authentication: !options.NoAuth, certificate: null, options.Partitions, options.HostSettings);
        var (registry, dataFolder, registryBase) = owned;
        var certs = Path.Combine(dataFolder, "certs");
        // The open registry and the no-op endpoint serve the first registry's certificate, so one client trusts all three.
        var (openRegistry, openDataFolder, openBase) = await BenchHost.StartRegistryAsync("b" + runId, options.Storage, authentication: false,
            certificate: Path.Combine(certs, DevelopmentCertificates.ServerFileName), options.Partitions, options.HostSettings);
        var ports = BenchHost.FreePorts(1);

        var noop = BenchHost.BuildNoopServer(Path.Combine(certs, DevelopmentCertificates.ServerFileName), ports[0]);
        await noop.StartAsync();

        using var http = BenchHost.CreateClient(Path.Combine(certs, DevelopmentCertificates.CaFileName), options.Concurrency);
        if (owned.OwnerToken() is { } ownerToken)
        {
            http.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", ownerToken);
        }
        var noopUri = new Uri($"https://127.0.0.1:{ports[0]}/noop");

        TableClient? table = null;
        if (options.Storage is not null)
        {
            table = new TableClient(options.Storage, "benchraw" + runId);
            await table.CreateIfNotExistsAsync();
        }

        var deviceBody = Encoding.UTF8.GetBytes("{\"status\":\"enabled\",\"authentication\":{\"type\":\"sas\",\"symmetricKey\":{\"primaryKey\":\"\",\"secondaryKey\":\"\"}}}");

        // Devices for the GET phase; each round's creates add more, so GETs read a growing registry like production.
        var seeded = Enumerable.Range(0, options.Devices).Select(i => $"seed-{runId}-{i}").ToArray();
        foreach (var target in new[] { registryBase, openBase })
        {
            await Parallel.ForEachAsync(seeded, new ParallelOptions { MaxDegreeOfParallelism = options.Concurrency }, async (id, _) =>
                (await Put(target, id)).EnsureSuccessStatusCode());
        }

        var entityPayload = new string('x', 300);
        var phases = new List<PhaseResult>();
        // CPU seconds spent during a phase by this process (the registries and the load) and by Azurite, per round and phase.
        var cpu = new Dictionary<(int Round, string Name), (double Process, double Azurite)>();
        var currentRound = 0;
        var measured = 0;
        var firstErrors = new System.Collections.Concurrent.ConcurrentDictionary<string, string>(StringComparer.Ordinal);
        var roundRatios = new List<(int Round, double Create, double Bulk)>();
        var duration = TimeSpan.FromSeconds(options.Seconds);
        Console.WriteLine($"storage: {(options.Storage is null ? "embedded (memory)" : "Azure Storage")}; auth {(options.NoAuth ? "OFF" : "SAS")}; {options.Partitions} index partitions; {options.Rounds} rounds of {options.Seconds}s per phase, {options.Concurrency} concurrent requests; {Environment.ProcessorCount} cores{string.Concat(options.HostSettings.Select(kv => $"; {kv.Key}={kv.Value}"))}");

        for (var round = 0; round <= options.Rounds && !stop.Requested; round++)
        {
            currentRound = round;
            firstErrors.Clear();
            // Round 0 warms every path (JIT, connection pools, grain activations) and is not reported.
            var seconds = round == 0 ? TimeSpan.FromSeconds(2) : duration;
            var results = new List<PhaseResult>
            {
                await Run("noop-kestrel", options.Concurrency, seconds, async _ =>
                {
                    using var response = await http.GetAsync(noopUri);
                    return response.IsSuccessStatusCode;
                }),
                await Run("registry-get", options.Concurrency, seconds, async n =>
                {
                    using var response = await http.GetAsync($"{registryBase}/devices/{seeded[n % seeded.Length]}?api-version=2021-04-12");
                    return response.IsSuccessStatusCode;
                }),
                await Run("registry-get-noauth", options.Concurrency, seconds, async n =>
                {
                    using var response = await http.GetAsync($"{openBase}/devices/{seeded[n % seeded.Length]}?api-version=2021-04-12");
                    return response.IsSuccessStatusCode;
                }),
                await Phase("registry-create", seconds, async n =>
                {
                    using var response = await Put(registryBase, $"r{round}-{runId}-{n}");
                    return await Succeeded("registry-create", response);
                }),
                await Phase("registry-bulk100", seconds, async n =>
                {
                    var items = string.Join(",", Enumerable.Range(0, 100).Select(i => $"{{\"id\":\"b{round}-{runId}-{n}-{i}\",\"importMode\":\"create\"}}"));
                    using var content = new StringContent($"[{items}]", Encoding.UTF8, "application/json");
                    using var response = await http.PostAsync($"{registryBase}/devices?api-version=2021-04-12", content);
                    return await Succeeded("registry-bulk100", response);
                }),
            };
            if (table is not null)
            {
                results.Add(await Phase("table-insert", seconds, async n =>
                {
                    var entity = new TableEntity($"p{n % 64}", $"r{round}-{n}") { ["Data"] = entityPayload };
                    try
                    {
                        using var response = await table.AddEntityAsync(entity);
                        return !response.IsError;
                    }
                    catch (Azure.RequestFailedException e) when (e.Status == 409)
                    {
                        // The SDK retried an insert whose first attempt timed out and had landed: inserted, slowly. On an
                        // overloaded Azurite this ended a whole run (2026-12-07).
                        return true;
                    }
                    catch (Azure.RequestFailedException)
                    {
                        return false;
                    }
                }));
            }
            if (stop.Requested)
            {
                // Interrupted: its phases after the signal did not run, so its ratios would compare a phase with nothing.
                break;
            }
            if (round > 0)
            {
                measured++;
                phases.AddRange(results);
                foreach (var r in results)
                {
                    Console.WriteLine($"round {round} {r.Name,-16} {r.OpsPerSecond,9:F0}/s  p50 {r.P50Ms,7:F2} ms  p99 {r.P99Ms,7:F2} ms  errors {r.Errors}");
                    if (r.Errors > 0 && firstErrors.TryRemove(r.Name, out var first))
                    {
                        Console.WriteLine($"round {round} {r.Name,-16} first error: {first}");
                    }
                }
                if (table is not null)
                {
                    // The ratios of one round: Azurite's speed drifts between rounds on a shared machine, less within one.
                    var insert = results.Single(r => r.Name == "table-insert").OpsPerSecond;
                    var ratios = (round, results.Single(r => r.Name == "registry-create").OpsPerSecond / insert,
                        results.Single(r => r.Name == "registry-bulk100").OpsPerSecond * 100 / insert);
                    roundRatios.Add(ratios);
                    Console.WriteLine($"round {round} registry-create / table-insert = {ratios.Item2:F3}; registry-bulk100 devices/s / table-insert = {ratios.Item3:F3}");
                    foreach (var (name, perOperation) in new[] { ("registry-create", 1), ("registry-bulk100", 100), ("table-insert", 1) })
                    {
                        var phase = results.Single(r => r.Name == name);
                        var (process, azurite) = cpu[(round, name)];
                        var operations = phase.OpsPerSecond * seconds.TotalSeconds * perOperation;
                        Console.WriteLine($"round {round} {name,-16} CPU per {(perOperation == 1 ? "operation" : "device")}: this process {process * 1e6 / operations:F0} µs, Azurite {(options.AzuritePid is null ? "?" : (azurite * 1e6 / operations).ToString("F0", System.Globalization.CultureInfo.InvariantCulture))} µs");
                    }
                    Console.WriteLine($"round {round} load average {File.ReadAllText("/proc/loadavg").Trim()}{DeviceRows(registry)}");
                }
            }
        }

        double MedianOf(string name) => Measurement.Median(phases.Where(p => p.Name == name).Select(p => p.OpsPerSecond));
        Console.WriteLine();
        if (phases.Count == 0)
        {
            Console.WriteLine("stopped before any round was measured: nothing to report.");
            if (table is not null)
            {
                await table.DeleteAsync();
            }
            await StopAll();
            return 130;
        }
        Console.WriteLine("medians over rounds (ops/s):");
        foreach (var name in phases.Select(p => p.Name).Distinct())
        {
            Console.WriteLine($"  {name,-16} {MedianOf(name),9:F0}");
        }
        var noopRate = MedianOf("noop-kestrel");
        Console.WriteLine($"  registry-get    / noop-kestrel = {MedianOf("registry-get") / noopRate:F3}");
        Console.WriteLine($"  registry-get    / registry-get-noauth = {MedianOf("registry-get") / MedianOf("registry-get-noauth"):F3}");
        Console.WriteLine($"  registry-create / noop-kestrel = {MedianOf("registry-create") / noopRate:F3}");
        if (table is not null)
        {
            var tableRate = MedianOf("table-insert");
            Console.WriteLine($"  registry-get    / table-insert = {MedianOf("registry-get") / tableRate:F3}");
            Console.WriteLine($"  registry-create / table-insert = {MedianOf("registry-create") / tableRate:F3}");
            // A bulk request carries 100 devices: its devices/s against single-entity inserts/s.
            Console.WriteLine($"  registry-bulk100 devices/s / table-insert = {MedianOf("registry-bulk100") * 100 / tableRate:F3}");
            Console.WriteLine($"  median of the rounds' ratios: registry-create / table-insert = {Measurement.Median(roundRatios.Select(r => r.Create)):F3}; registry-bulk100 devices/s / table-insert = {Measurement.Median(roundRatios.Select(r => r.Bulk)):F3}");
            await table.DeleteAsync();
        }

        await StopAll();
        if (stop.Requested)
        {
            Console.WriteLine($"stopped by a signal: {measured} of the {options.Rounds} rounds asked were measured and are reported above.");
            return 130;
        }
        return 0;

        async Task StopAll()
        {
            await noop.StopAsync();
            await registry.StopAsync();
            await openRegistry.StopAsync();
            Directory.Delete(dataFolder, recursive: true);
            Directory.Delete(openDataFolder, recursive: true);
        }

        // A phase, unless a signal asked the run to end: then nothing more is started.
        async Task<PhaseResult> Run(string name, int concurrency, TimeSpan seconds, Func<long, Task<bool>> operation) =>
            stop.Requested ? new PhaseResult(name, 0, 0, 0, 0) : await Measurement.RunAsync(name, concurrency, seconds, operation);

        async Task<PhaseResult> Phase(string name, TimeSpan seconds, Func<long, Task<bool>> operation)
        {
            var before = (Process: Environment.CpuUsage.TotalTime.TotalSeconds, Azurite: AzuriteCpuSeconds());
            var result = await Run(name, options.Concurrency, seconds, operation);
            cpu[(currentRound, name)] = (Environment.CpuUsage.TotalTime.TotalSeconds - before.Process, AzuriteCpuSeconds() - before.Azurite);
            return result;
        }

        // utime + stime of Azurite's process, in clock ticks of 1/100 s (Linux).
        double AzuriteCpuSeconds()
        {
            if (options.AzuritePid is not { } pid || !File.Exists($"/proc/{pid}/stat"))
            {
                return 0;
            }
            var fields = File.ReadAllText($"/proc/{pid}/stat").Split(')')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return (double.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) + double.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture)) / 100;
        }

        // How the batched device store grouped the writes so far (nothing with the other device storages).
        static string DeviceRows(WebApplication app) =>
            (app.Services.GetKeyedService<Orleans.Storage.IGrainStorage>(SiloConfiguration.DeviceStore) is DeviceRowStorage rows
                ? $"; device rows so far: {rows.Writes} writes in {rows.Requests} requests"
                : "")
            + (app.Services.GetKeyedService<Registry.Grains.Index.IIndexStore>(SiloConfiguration.IndexEntryStore) is TableIndexStore index
                ? $"; index entries so far: {index.Writes} writes in {index.Requests} requests"
                : "");

        // A failed call's status and the start of its body, once per phase and round: "errors 64" alone does not say why.
        async Task<bool> Succeeded(string phase, HttpResponseMessage response)
        {
            if (response.IsSuccessStatusCode)
            {
                return true;
            }
            if (!firstErrors.ContainsKey(phase))
            {
                var body = await response.Content.ReadAsStringAsync();
                firstErrors.TryAdd(phase, $"{(int)response.StatusCode} {body[..Math.Min(body.Length, 300)]}");
            }
            return false;
        }

        Task<HttpResponseMessage> Put(string baseAddress, string id)
        {
            var request = new HttpRequestMessage(HttpMethod.Put, $"{baseAddress}/devices/{id}?api-version=2021-04-12")
            {
                Content = new ByteArrayContent(deviceBody),
            };
            request.Content.Headers.ContentType = new("application/json") { CharSet = "utf-8" };
            return http.SendAsync(request);
        }
    }
}
