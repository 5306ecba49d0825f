using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Azure.Data.Tables;
using Registry.Host;

namespace Registry.Bench.Scale;

/// <summary>
/// Fills one registry through its real HTTPS surface with bulk creates, step by step, and measures at every step
/// what growth must not make worse: the create rate, memory per device, a full cursor walk and the statistics call.
/// At the size reached it measures single GET and PUT, and (durable) the raw Azure Table ceilings of the same
/// Azurite at the start and the end, so the report's ratios come from one run on one machine.
/// </summary>
internal static class ScaleBench
{
    private const string ApiVersion = "api-version=2021-04-12";

    /// <summary>
    /// Runs the phase. <paramref name="interrupted"/> (Ctrl+C) ends it at once with what was measured; the fill's own
    /// bounds (device count, time) end it normally. Everything started here is stopped here.
    /// </summary>
    public static async Task<ScaleReport> RunAsync(ScaleOptions options, TextWriter log, CancellationToken interrupted)
    {
        using var stopOnSignal = CancellationTokenSource.CreateLinkedTokenSource(interrupted);
        var abort = stopOnSignal.Token;
        var report = new ScaleReport { Options = options };
        var runId = Guid.NewGuid().ToString("N")[..8];
        AzuriteProcess? azurite = null;
        BenchRegistry? registry = null;
        TableClient? table = null;
        try
        {
            var storage = options.Storage;
            if (options.Mode == ScaleMode.Durable && storage is null)
            {
                azurite = await AzuriteProcess.StartAsync(abort);
                storage = azurite.ConnectionString;
                log.WriteLine($"Azurite (in memory) started, pid {azurite.ProcessId}");
            }
            registry = await BenchHost.StartRegistryAsync("s" + runId, options.Mode == ScaleMode.Durable ? storage : null,
                authentication: true, certificate: null, options.Partitions, options.HostSettings);
            using var http = BenchHost.CreateClient(Path.Combine(registry.Certificates, DevelopmentCertificates.CaFileName), options.Concurrency);
            if (registry.OwnerToken() is { } token)
            {
                http.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", token);
            }
            var baseAddress = registry.BaseAddress;
            // The host's console lifetime takes SIGINT/SIGTERM too and asks the application to stop: that ends the run.
            using var hostStopping = registry.App.Lifetime.ApplicationStopping.Register(stopOnSignal.Cancel);
            if (options.Mode == ScaleMode.Durable && options.Ceilings)
            {
                table = new TableClient(storage, "scaleraw" + runId);
                await table.CreateIfNotExistsAsync(abort);
                // A short unreported pass first, so the "start" ceiling is not the SDK's first calls.
                await CeilingsAsync(table, "warm", options with { PhaseTime = TimeSpan.FromSeconds(1) }, abort);
                report.Phases.AddRange(await CeilingsAsync(table, "start", options, abort));
            }

            (report.BaselineRssBytes, report.BaselineHeapBytes) = (Memory.Rss(), Memory.Heap());
            log.WriteLine($"{options.Mode} mode, empty registry: RSS {report.BaselineRssBytes / 1048576} MB, heap {report.BaselineHeapBytes / 1048576} MB");

            var grains = registry.App.Services.GetRequiredService<IGrainFactory>();
            var failedIds = new System.Collections.Concurrent.ConcurrentDictionary<long, bool>();
            var fillDeadline = Stopwatch.StartNew();
            long created = 0, failedTotal = 0;
            for (var step = 1; created < options.Devices && !abort.IsCancellationRequested; step++)
            {
                var target = Math.Min(options.Devices, created + options.Step);
                var remaining = options.FillTime - fillDeadline.Elapsed;
                if (remaining <= TimeSpan.Zero)
                {
                    break;
                }
                var watch = Stopwatch.StartNew();
                var (reached, failed) = options.Fill == ScaleFill.Import
                    ? await ImportStepAsync(http, baseAddress, storage!, runId, step, created, target, remaining, log, failedIds, report.Notes, abort)
                    : await FillAsync(http, baseAddress, runId, created, target, options, remaining, log, failedIds, report.Notes, abort);
                var seconds = watch.Elapsed.TotalSeconds;
                failedTotal += failed;
                var partial = reached < target;
                var (rss, heap) = (Memory.Rss(), Memory.Heap());
                var walk = await WalkAsync(http, baseAddress, options, abort);
                var statistics = await StatisticsAsync(http, baseAddress, options.StatisticsSamples, abort);
                var row = new ScaleStep(step, created, reached, seconds, failed, partial, rss, heap,
                    azurite is null ? null : Memory.Rss(azurite.ProcessId),
                    walk.Seconds, walk.Counted, walk.Complete, statistics.MedianMs, statistics.Total, Memory.LoadAverage());
                report.Steps.Add(row);
                if (walk.Counted != reached - failedTotal || statistics.Total != reached - failedTotal)
                {
                    report.Notes.Add($"step {step}: {reached - failedTotal:N0} devices acknowledged, but the walk counted {walk.Counted:N0} and statistics said {statistics.Total:N0}");
                }
                log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"step {step}{(partial ? " (partial)" : "")}: {created:N0} → {reached:N0} in {seconds:F1} s = {row.DevicesPerSecond:F0} devices/s, failed {failed}; " +
                    $"RSS {rss / 1048576} MB, heap {heap / 1048576} MB; walk {walk.Seconds:F1} s counted {walk.Counted:N0}{(walk.Complete ? "" : " (abandoned)")}; " +
                    $"statistics {statistics.MedianMs:F1} ms (total {statistics.Total:N0}); load {row.LoadAverage:F1}"));
                created = reached;
            }
            report.StopReason = abort.IsCancellationRequested ? "interrupted"
                : created >= options.Devices ? $"reached {options.Devices:N0} devices"
                : $"fill time cap ({options.FillTime.TotalMinutes:0.#} min) at {created:N0} devices";
            report.PeakRssBytes = Memory.PeakRss();

            if (!abort.IsCancellationRequested && created > 0)
            {
                report.Phases.AddRange(await FinalPhasesAsync(http, baseAddress, runId, created, failedIds, options, abort));
                if (table is not null)
                {
                    report.Phases.AddRange(await CeilingsAsync(table, "end", options, abort));
                    if (await RawScanAsync(storage!, Registry.Client.RegistryClusterNames.TablePrefix(registry.StoragePrefix) + "DeviceRows", abort) is { } scan)
                    {
                        report.Phases.Add(scan);
                        log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"raw scan of the device rows: {scan.OpsPerSecond:F0} rows/s, pages p50 {scan.P50Ms:F1} ms, p99 {scan.P99Ms:F1} ms"));
                    }
                }
                var registered = (await StatisticsAsync(http, baseAddress, 1, abort)).Total;
                report.Idle = await IdleAsync(grains, registered, options.IdleTime, abort);
                log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"idle: {report.Idle.ActivationsLeft:N0} device activations left after {report.Idle.Seconds:F1} s; RSS {report.Idle.RssBytes / 1048576} MB, heap {report.Idle.HeapBytes / 1048576} MB"));
                if (options.IdleHold > TimeSpan.Zero)
                {
                    // Time to take a heap snapshot of the idle registry (dotnet-gcdump collect -p PID) before it stops.
                    log.WriteLine($"idle: holding {options.IdleHold.TotalSeconds:0} s, process id {Environment.ProcessId}");
                    await Task.Delay(options.IdleHold, abort);
                }
            }
        }
        catch (OperationCanceledException) when (abort.IsCancellationRequested)
        {
            report.StopReason = "interrupted";
        }
        finally
        {
            if (report.PeakRssBytes == 0)
            {
                report.PeakRssBytes = Memory.PeakRss();
            }
            if (table is not null)
            {
                try
                {
                    await table.DeleteAsync(CancellationToken.None);
                }
                catch (Azure.RequestFailedException)
                {
                    // the Azurite goes away with the run anyway
                }
            }
            if (registry is not null)
            {
                await registry.StopAsync();
            }
            if (azurite is not null)
            {
                await azurite.DisposeAsync();
                log.WriteLine($"Azurite pid {azurite.ProcessId} stopped");
            }
        }
        return report;
    }

    private static string DeviceId(string runId, long n) => $"scale-{runId}-{n}";

    /// <summary>
    /// Bulk-creates devices [from, target) from <c>Concurrency</c> workers; no new request starts after
    /// <paramref name="timeLeft"/>, so a slow step ends with every started request answered and counted.
    /// </summary>
    private static async Task<(long Reached, long Failed)> FillAsync(HttpClient http, string baseAddress, string runId, long from, long target,
        ScaleOptions options, TimeSpan timeLeft, TextWriter log, System.Collections.Concurrent.ConcurrentDictionary<long, bool> failedIds,
        List<string> notes, CancellationToken abort)
    {
        var reasons = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        long next = from, failed = 0, reached = from;
        var clock = Stopwatch.StartNew();
        var highest = new List<long>();
        var workers = Enumerable.Range(0, options.Concurrency).Select(_ => Task.Run(async () =>
        {
            while (!abort.IsCancellationRequested && clock.Elapsed < timeLeft)
            {
                var start = Interlocked.Add(ref next, options.Batch) - options.Batch;
                if (start >= target)
                {
                    return;
                }
                var count = (int)Math.Min(options.Batch, target - start);
                var items = string.Join(",", Enumerable.Range(0, count).Select(i => $"{{\"id\":\"{DeviceId(runId, start + i)}\",\"importMode\":\"create\"}}"));
                using var content = new StringContent($"[{items}]", Encoding.UTF8, "application/json");
                var (status, body) = await PostAsync(http, $"{baseAddress}/devices?{ApiVersion}", content, abort);
                var itemFailures = status switch
                {
                    HttpStatusCode.OK => 0,
                    HttpStatusCode.BadRequest => BulkErrors(body, reasons, runId, failedIds) ?? count,
                    _ => count,
                };
                if (status is not (HttpStatusCode.OK or HttpStatusCode.BadRequest))
                {
                    for (var i = 0; i < count; i++)
                    {
                        failedIds[start + i] = true;
                    }
                    var reason = status is { } code ? $"HTTP {(int)code}" : body;
                    reasons.AddOrUpdate(reason, count, (_, c) => c + count);
                }
                Interlocked.Add(ref failed, itemFailures);
                lock (highest)
                {
                    highest.Add(start + count);
                }
            }
        }, abort)).ToArray();
        await Task.WhenAll(workers);
        // Batches are handed out in order and every one handed out was answered, so the ids made are [from, max end).
        reached = highest.Count == 0 ? from : highest.Max();
        if (!reasons.IsEmpty)
        {
            var line = $"devices {from:N0} → {target:N0}: failed items " + string.Join(", ", reasons.OrderByDescending(r => r.Value).Select(r => $"{r.Key} × {r.Value}"));
            log.WriteLine("  " + line);
            notes.Add(line);
        }
        return (reached, failed);
    }

    /// <summary>
    /// Registers devices [from, target) with one import job (<c>POST /jobs/create</c>), its input a blob of create lines
    /// without keys (the registry generates them, as for the bulk fill) uploaded to the run's storage first, untimed.
    /// The step's time is the job's, from create to completed. Lines in <c>importErrors.log</c> are the step's failures.
    /// A job that does not complete within <paramref name="timeLeft"/> is cancelled; what it applied is then unknown
    /// line by line, so the step counts the devices the statistics gained and says so.
    /// </summary>
    private static async Task<(long Reached, long Failed)> ImportStepAsync(HttpClient http, string baseAddress, string storage, string runId, int step,
        long from, long target, TimeSpan timeLeft, TextWriter log, System.Collections.Concurrent.ConcurrentDictionary<long, bool> failedIds,
        List<string> notes, CancellationToken abort)
    {
        var blobs = new Azure.Storage.Blobs.BlobServiceClient(storage);
        var input = blobs.GetBlobContainerClient($"scale{runId}in");
        var output = blobs.GetBlobContainerClient($"scale{runId}out{step}");
        await input.CreateIfNotExistsAsync(cancellationToken: abort);
        await output.CreateIfNotExistsAsync(cancellationToken: abort);
        var blobName = $"devices-{step}.txt";
        using var lines = new MemoryStream();
        using (var writer = new StreamWriter(lines, new UTF8Encoding(false), 1 << 16, leaveOpen: true))
        {
            for (var n = from; n < target; n++)
            {
                writer.Write($"{{\"id\":\"{DeviceId(runId, n)}\",\"importMode\":\"create\"}}\n");
            }
        }
        lines.Position = 0;
        var upload = Stopwatch.StartNew();
        await input.GetBlobClient(blobName).UploadAsync(lines, new Azure.Storage.Blobs.Models.BlobUploadOptions
        {
            TransferOptions = new Azure.Storage.StorageTransferOptions { MaximumConcurrency = 4, MaximumTransferSize = 4 << 20 },
        }, abort);
        log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  step {step}: uploaded {blobName} ({lines.Length / 1e6:F1} MB) in {upload.Elapsed.TotalSeconds:F1} s (not counted)"));
        var job = await Jobs.RegistryJob.RunAsync(http, baseAddress, new System.Text.Json.Nodes.JsonObject
        {
            ["type"] = "import",
            ["inputBlobContainerUri"] = Jobs.RegistryJob.InputSas(input),
            ["outputBlobContainerUri"] = Jobs.RegistryJob.OutputSas(output),
            ["inputBlobName"] = blobName,
        }, timeLeft, progress: null, abort);
        var status = (string?)job["status"];
        long failed = 0;
        var errorLog = output.GetBlobClient("importErrors.log");
        if ((await errorLog.ExistsAsync(abort)).Value)
        {
            var text = (await errorLog.DownloadContentAsync(abort)).Value.Content.ToString();
            var prefix = DeviceId(runId, 0)[..^1];
            foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                failed++;
                var at = line.IndexOf(prefix, StringComparison.Ordinal);
                if (at >= 0 && DeviceNumber(line.AsSpan(at + prefix.Length)) is { } n)
                {
                    failedIds[n] = true;
                }
            }
            if (failed > 0)
            {
                var first = text.Split('\n', 2)[0];
                notes.Add($"devices {from:N0} → {target:N0}: {failed:N0} lines in importErrors.log, the first: {first}");
            }
        }
        if (status == "completed")
        {
            return (target, failed);
        }
        var total = (await StatisticsAsync(http, baseAddress, 1, abort)).Total;
        var reached = Math.Max(from, total + failedIds.Count);
        var note = $"devices {from:N0} → {target:N0}: the import job ended {status} ({(string?)job["failureReason"] ?? "no reason"}); the statistics counted {total:N0}, so the step counts to {reached:N0}";
        log.WriteLine("  " + note);
        notes.Add(note);
        return (reached, failed);
    }

    /// <summary>A request that never got an answer (connection lost, client timeout) fails its items; it does not end the run.</summary>
    private static async Task<(HttpStatusCode? Status, string Body)> PostAsync(HttpClient http, string uri, HttpContent content, CancellationToken abort)
    {
        try
        {
            using var response = await http.PostAsync(uri, content, abort);
            return (response.StatusCode, await response.Content.ReadAsStringAsync(abort));
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !abort.IsCancellationRequested)
        {
            return (null, e.GetType().Name);
        }
    }

    private static int? BulkErrors(string body, System.Collections.Concurrent.ConcurrentDictionary<string, int> reasons, string runId,
        System.Collections.Concurrent.ConcurrentDictionary<long, bool> failedIds)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            if (!json.RootElement.TryGetProperty("errors", out var errors))
            {
                return null;
            }
            foreach (var error in errors.EnumerateArray())
            {
                var code = error.TryGetProperty("errorCode", out var c) ? c.GetString() ?? "?" : "?";
                reasons.AddOrUpdate(code, 1, (_, n) => n + 1);
                var prefix = DeviceId(runId, 0)[..^1];
                if (error.TryGetProperty("deviceId", out var id) && id.GetString() is { } deviceId && deviceId.StartsWith(prefix, StringComparison.Ordinal)
                    && DeviceNumber(deviceId.AsSpan(prefix.Length)) is { } n)
                {
                    failedIds[n] = true;
                }
            }
            return errors.GetArrayLength();
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The number a device id of this run ends with (<see cref="DeviceId"/>), read from the digits that follow its prefix.</summary>
    private static long? DeviceNumber(ReadOnlySpan<char> afterPrefix)
    {
        var length = 0;
        while (length < afterPrefix.Length && char.IsAsciiDigit(afterPrefix[length]))
        {
            length++;
        }
        return length > 0 && long.TryParse(afterPrefix[..length], NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;
    }

    /// <summary>A full cursor walk, one page after another as a client walks it, counting every device returned.</summary>
    private static async Task<(double Seconds, long Counted, bool Complete)> WalkAsync(HttpClient http, string baseAddress, ScaleOptions options, CancellationToken abort)
    {
        var watch = Stopwatch.StartNew();
        long counted = 0;
        string? continuation = null;
        do
        {
            if (watch.Elapsed > options.WalkTime)
            {
                return (watch.Elapsed.TotalSeconds, counted, false);
            }
            using var request = new HttpRequestMessage(HttpMethod.Get, $"{baseAddress}/devices?{ApiVersion}");
            request.Headers.TryAddWithoutValidation("x-ms-max-item-count", options.PageSize.ToString(CultureInfo.InvariantCulture));
            if (continuation is not null)
            {
                request.Headers.TryAddWithoutValidation("x-ms-continuation", continuation);
            }
            using var response = await http.SendAsync(request, abort);
            if (!response.IsSuccessStatusCode)
            {
                return (watch.Elapsed.TotalSeconds, counted, false);
            }
            await using var body = await response.Content.ReadAsStreamAsync(abort);
            using var page = await JsonDocument.ParseAsync(body, cancellationToken: abort);
            counted += page.RootElement.GetArrayLength();
            continuation = response.Headers.TryGetValues("x-ms-continuation", out var values) ? values.FirstOrDefault() : null;
        }
        while (!string.IsNullOrEmpty(continuation));
        return (watch.Elapsed.TotalSeconds, counted, true);
    }

    private static async Task<(double MedianMs, long Total)> StatisticsAsync(HttpClient http, string baseAddress, int samples, CancellationToken abort)
    {
        var times = new List<double>();
        long total = -1;
        for (var i = 0; i < samples; i++)
        {
            var start = Stopwatch.GetTimestamp();
            using var response = await http.GetAsync($"{baseAddress}/statistics/devices?{ApiVersion}", abort);
            var body = await response.Content.ReadAsStringAsync(abort);
            times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            using var json = JsonDocument.Parse(body);
            total = response.IsSuccessStatusCode && json.RootElement.TryGetProperty("totalDeviceCount", out var t) ? t.GetInt64() : -1;
        }
        return (Measurement.Median(times), total);
    }

    private static async Task<PhaseResult[]> FinalPhasesAsync(HttpClient http, string baseAddress, string runId, long created,
        System.Collections.Concurrent.ConcurrentDictionary<long, bool> failedIds, ScaleOptions options, CancellationToken abort)
    {
        var body = Encoding.UTF8.GetBytes("{\"status\":\"enabled\",\"authentication\":{\"type\":\"sas\",\"symmetricKey\":{\"primaryKey\":\"\",\"secondaryKey\":\"\"}}}");
        // A stride coprime with most sizes spreads GETs over the whole registry rather than its newest devices.
        // Ids whose create was refused are skipped: a GET reads a device the registry acknowledged.
        var get = await Measurement.RunAsync("get", options.Concurrency, options.PhaseTime, async n =>
        {
            var k = n * 7919 % created;
            while (failedIds.ContainsKey(k) && failedIds.Count < created)
            {
                k = (k + 1) % created;
            }
            using var response = await http.GetAsync($"{baseAddress}/devices/{DeviceId(runId, k)}?{ApiVersion}", abort);
            return response.IsSuccessStatusCode;
        });
        var put = await Measurement.RunAsync("put-create", options.Concurrency, options.PhaseTime, async n =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Put, $"{baseAddress}/devices/{DeviceId(runId, created + n)}?{ApiVersion}")
            {
                Content = new ByteArrayContent(body),
            };
            request.Content.Headers.ContentType = new("application/json") { CharSet = "utf-8" };
            using var response = await http.SendAsync(request, abort);
            return response.IsSuccessStatusCode;
        });
        return [get, put];
    }

    /// <summary>
    /// Memory with every device registered and none active: asks every silo to deactivate whatever is idle (Orleans'
    /// activation collection with no age), waits until no device grain is active (or <paramref name="limit"/>), then
    /// measures after a compacting, decommitting collection, so what is left is what the index, the storage and the
    /// silo keep per registered device.
    /// </summary>
    private static async Task<IdleMemory> IdleAsync(IGrainFactory grains, long registered, TimeSpan limit, CancellationToken abort)
    {
        var management = grains.GetGrain<IManagementGrain>(0);
        var watch = Stopwatch.StartNew();
        long left;
        do
        {
            await management.ForceActivationCollection(TimeSpan.Zero);
            left = (await management.GetSimpleGrainStatistics())
                .Where(s => s.GrainType.Contains("DeviceGrain", StringComparison.Ordinal)).Sum(s => (long)s.ActivationCount);
            if (left > 0)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), abort);
            }
        }
        while (left > 0 && watch.Elapsed < limit);
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        return new IdleMemory(registered, left, watch.Elapsed.TotalSeconds, Memory.Rss(), Memory.Heap());
    }

    /// <summary>Raw Azure Table inserts on the registry's own Azurite: single entities, and transactions of 100 (reported per entity).</summary>
    /// <summary>
    /// The cursor walk's ceiling: every row of the registry's device-row tables (<c>DeviceStorage=Batched</c>) read by plain
    /// queries in the service's pages of 1,000 rows, one page at a time as a client's walk asks one page at a time, with
    /// the two columns a listing reads. Rows per second, and each page's latency. Null when the registry keeps no such table.
    /// The tables are this run's registry's only (<paramref name="tableName"/>, then with a number): a shared storage
    /// account holds others.
    /// </summary>
    private static async Task<PhaseResult?> RawScanAsync(string storage, string tableName, CancellationToken abort)
    {
        var service = new TableServiceClient(storage);
        var tables = new List<string>();
        await foreach (var item in service.QueryAsync(cancellationToken: abort))
        {
            if (item.Name.StartsWith(tableName, StringComparison.OrdinalIgnoreCase) && item.Name[tableName.Length..].All(char.IsAsciiDigit))
            {
                tables.Add(item.Name);
            }
        }
        if (tables.Count == 0)
        {
            return null;
        }
        var pages = new HdrHistogram.LongHistogram(Stopwatch.Frequency * 3600, 3);
        long rows = 0;
        var watch = Stopwatch.StartNew();
        foreach (var name in tables)
        {
            var page = Stopwatch.GetTimestamp();
            await foreach (var rowsOfPage in service.GetTableClient(name).QueryAsync<TableEntity>(
                filter: (string?)null, maxPerPage: 1000, select: ["RowKey", "Data"], cancellationToken: abort).AsPages())
            {
                pages.RecordValue(Stopwatch.GetTimestamp() - page);
                rows += rowsOfPage.Values.Count;
                page = Stopwatch.GetTimestamp();
            }
        }
        var seconds = watch.Elapsed.TotalSeconds;
        return new PhaseResult("raw-scan (end)", rows / seconds,
            pages.GetValueAtPercentile(50) * 1000.0 / Stopwatch.Frequency, pages.GetValueAtPercentile(99) * 1000.0 / Stopwatch.Frequency, 0);
    }

    private static async Task<PhaseResult[]> CeilingsAsync(TableClient table, string when, ScaleOptions options, CancellationToken abort)
    {
        var payload = new string('x', 300);
        var single = await Measurement.RunAsync($"table-insert ({when})", options.Concurrency, options.PhaseTime, async n =>
        {
            using var response = await table.AddEntityAsync(new TableEntity($"{when}{n % 64}", $"r{n}") { ["Data"] = payload }, abort);
            return !response.IsError;
        });
        var group = await Measurement.RunAsync($"table-egt100 ({when})", options.Concurrency, options.PhaseTime, async n =>
        {
            var actions = Enumerable.Range(0, 100).Select(i =>
                new TableTransactionAction(TableTransactionActionType.Add, new TableEntity($"{when}g{n}", $"r{i}") { ["Data"] = payload })).ToList();
            var response = await table.SubmitTransactionAsync(actions, abort);
            return !response.GetRawResponse().IsError;
        });
        // Entities per second, comparable with devices per second.
        return [single, group with { OpsPerSecond = group.OpsPerSecond * 100 }];
    }
}

/// <summary>Memory of this process (which hosts the registry) and of a child process, read as Linux reports it.</summary>
internal static class Memory
{
    public static long Heap() => GC.GetTotalMemory(forceFullCollection: true);

    public static long Rss(int? pid = null) => Status(pid, "VmRSS:") ?? Process.GetCurrentProcess().WorkingSet64;

    public static long PeakRss() => Status(null, "VmHWM:") ?? Process.GetCurrentProcess().PeakWorkingSet64;

    /// <summary>The 1-minute load average (Linux), null elsewhere.</summary>
    public static double? LoadAverage() =>
        File.Exists("/proc/loadavg") && double.TryParse(File.ReadAllText("/proc/loadavg").Split(' ')[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var load)
            ? load
            : null;

    private static long? Status(int? pid, string field)
    {
        var path = $"/proc/{(pid is { } p ? p.ToString(CultureInfo.InvariantCulture) : "self")}/status";
        if (!File.Exists(path))
        {
            return null;
        }
        return StatusBytes(File.ReadLines(path), field);
    }

    /// <summary>
    /// A "kB" field of /proc/…/status in bytes. The kernel writes a tab after the name and pads the number to 8 columns
    /// with spaces, so a value of 8 digits (≥ 10 GB; a whole test run's peak) follows the tab with no space.
    /// </summary>
    internal static long? StatusBytes(IEnumerable<string> lines, string field)
    {
        var line = lines.FirstOrDefault(l => l.StartsWith(field, StringComparison.Ordinal));
        var parts = line?[field.Length..].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        return parts is { Length: >= 1 } && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var kilobytes)
            ? kilobytes * 1024
            : null;
    }
}
