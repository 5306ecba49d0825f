using System.Diagnostics;
using System.Globalization;
using System.Text;
using Registry.Abstractions;

namespace Registry.Bench.Heartbeats;

/// <summary>One measured round: the ceiling and the two heartbeat paths, each for the same time.</summary>
internal sealed record HeartbeatRound(PhaseResult Noop, PhaseResult Single, PhaseResult Batch, int BatchSize, PhaseResult? NoopHttp, PhaseResult? Https)
{
    public double? HttpsRatio => Https is { } h && NoopHttp is { } n ? h.OpsPerSecond / n.OpsPerSecond : null;

    /// <summary>Heartbeats per second through the batch grain (calls × ids per call).</summary>
    public double BatchHeartbeats => Batch.OpsPerSecond * BatchSize;

    public double SingleRatio => Single.OpsPerSecond / Noop.OpsPerSecond;

    public double BatchRatio => BatchHeartbeats / Noop.OpsPerSecond;
}

/// <summary>What the heartbeat command measured, and what shared the machine while it did.</summary>
internal sealed record HeartbeatReport(
    HeartbeatOptions Options, int NoopGrains, double FillSeconds, double OnlineSeconds, long RssBaseline, long RssAfterFill, long RssAfterBeats, long HeapAfterBeats,
    string LoadBefore, string LoadAfter, IReadOnlyList<HeartbeatRound> Rounds, long Errors)
{
    public string ToMarkdown()
    {
        var o = Options;
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"# Heartbeats through the grain interface: {o.Devices:N0} devices");
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"An Orleans client in the registry's process calls `IDeviceGrain.Heartbeat` ({o.Concurrency} calls in flight), then `IHeartbeatBatchGrain.Heartbeat` with {o.Batch} ids a call, beside a no-op grain call over {NoopGrains:N0} grains, all active before the rounds as every device is (the ceiling), {o.Rounds} rounds of {o.PhaseTime.TotalSeconds:0.#} s each after a warm-up, the three interleaved in turns of {o.Slice.TotalSeconds:0.#} s (the order rotating) so the machine's load weighs on each alike. GC: {(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")}, latency mode {System.Runtime.GCSettings.LatencyMode}. {Environment.ProcessorCount} cores; load average before {LoadBefore}, after {LoadAfter}.");
        text.AppendLine();
        text.AppendLine("| round | no-op calls/s | heartbeats/s (single) | ÷ no-op | p50 / p99 ms (single) | heartbeats/s (batch) | ÷ no-op | p99 ms (batch call) |");
        text.AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- |");
        var n = 1;
        foreach (var r in Rounds)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {n++} | {r.Noop.OpsPerSecond:N0} | {r.Single.OpsPerSecond:N0} | {r.SingleRatio:0.00} | {r.Single.P50Ms:0.0} / {r.Single.P99Ms:0.0} | {r.BatchHeartbeats:N0} | {r.BatchRatio:0.00} | {r.Batch.P99Ms:0.0} |");
        }
        if (Rounds.Count > 0)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| **median** | {Measurement.Median(Rounds.Select(r => r.Noop.OpsPerSecond)):N0} | {Measurement.Median(Rounds.Select(r => r.Single.OpsPerSecond)):N0} | **{Measurement.Median(Rounds.Select(r => r.SingleRatio)):0.00}** | {Measurement.Median(Rounds.Select(r => r.Single.P50Ms)):0.0} / {Measurement.Median(Rounds.Select(r => r.Single.P99Ms)):0.0} | {Measurement.Median(Rounds.Select(r => r.BatchHeartbeats)):N0} | **{Measurement.Median(Rounds.Select(r => r.BatchRatio)):0.00}** | {Measurement.Median(Rounds.Select(r => r.Batch.P99Ms)):0.0} |");
        }
        if (Rounds.Count > 0 && Rounds[0].Https is not null)
        {
            text.AppendLine();
            text.AppendLine(CultureInfo.InvariantCulture, $"Through the HTTPS device endpoint (`POST /devices/{{id}}/messages/events`, {o.HttpsDevices:N0} devices each with its own SAS token, {o.Concurrency} requests in flight) beside a no-op Kestrel `POST` with the same TLS certificate and body:");
            text.AppendLine();
            text.AppendLine("| round | no-op POST/s | heartbeats/s (HTTPS) | ÷ no-op | p50 / p99 ms |");
            text.AppendLine("| --- | --- | --- | --- | --- |");
            var m = 1;
            foreach (var r in Rounds)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"| {m++} | {r.NoopHttp!.OpsPerSecond:N0} | {r.Https!.OpsPerSecond:N0} | {r.HttpsRatio:0.00} | {r.Https.P50Ms:0.0} / {r.Https.P99Ms:0.0} |");
            }
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| **median** | {Measurement.Median(Rounds.Select(r => r.NoopHttp!.OpsPerSecond)):N0} | {Measurement.Median(Rounds.Select(r => r.Https!.OpsPerSecond)):N0} | **{Measurement.Median(Rounds.Select(r => r.HttpsRatio!.Value)):0.00}** | {Measurement.Median(Rounds.Select(r => r.Https!.P50Ms)):0.0} / {Measurement.Median(Rounds.Select(r => r.Https!.P99Ms)):0.0} |");
        }
        text.AppendLine();
        text.AppendLine(o.BeatAfterCreate
            ? "The devices beat with the activations their creation left (`--beat-after-create`)."
            : string.Create(CultureInfo.InvariantCulture, $"The devices came online as a fleet registered earlier does: the fill's activations collected, then each device activated by its first heartbeat ({OnlineSeconds:0.0} s for all)."));
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"Storage: {(o.Storage is null ? "embedded (memory: the stored devices, index and presence in this process)" : "Azure Storage (durable)")}. Fill: {o.Devices:N0} devices by bulk create in {FillSeconds:0.0} s. RSS before the fill {RssBaseline / 1e6:N0} MB, after it {RssAfterFill / 1e6:N0} MB ({(double)(RssAfterFill - RssBaseline) / o.Devices:N0} B per device, every device grain active); after the heartbeats {RssAfterBeats / 1e6:N0} MB ({(double)(RssAfterBeats - RssBaseline) / o.Devices:N0} B per active device), managed heap {HeapAfterBeats / 1e6:N0} MB. Failed calls: {Errors}.");
        return text.ToString();
    }

    public string ToCsv()
    {
        var text = new StringBuilder("round,noop_per_s,single_per_s,single_ratio,single_p50_ms,single_p99_ms,batch_heartbeats_per_s,batch_ratio,batch_p99_ms,noop_http_per_s,https_per_s,https_ratio,https_p99_ms\n");
        var n = 1;
        foreach (var r in Rounds)
        {
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"{n++},{r.Noop.OpsPerSecond:0},{r.Single.OpsPerSecond:0},{r.SingleRatio:0.000},{r.Single.P50Ms:0.00},{r.Single.P99Ms:0.00},{r.BatchHeartbeats:0},{r.BatchRatio:0.000},{r.Batch.P99Ms:0.00},{r.NoopHttp?.OpsPerSecond:0},{r.Https?.OpsPerSecond:0},{r.HttpsRatio:0.000},{r.Https?.P99Ms:0.00}"));
        }
        return text.ToString();
    }
}

/// <summary>
/// Heartbeats at scale through the grain interface (issue 9's figure (a)): fills a registry in this process, then
/// alternates a no-op grain call, single heartbeats and batched heartbeats, each for the same time.
/// </summary>
internal static class HeartbeatBench
{
    public static async Task<HeartbeatReport> RunAsync(HeartbeatOptions options, TextWriter progress, CancellationToken cancel)
    {
        var name = "hb" + Guid.NewGuid().ToString("N")[..8];
        var gatewayPort = BenchHost.FreePorts(1)[0];
        var registry = await BenchHost.StartRegistryAsync(name, options.Storage, authentication: true, certificate: null, partitions: null,
            new Dictionary<string, string?>
            {
                ["Registry:GatewayPort"] = gatewayPort.ToString(CultureInfo.InvariantCulture),
                ["Registry:Authentication:TokenCacheSize"] = Math.Max(50_000, options.HttpsDevices * 2).ToString(CultureInfo.InvariantCulture),
            });
        var noopPort = BenchHost.FreePorts(1)[0];
        var noopHttp = BenchHost.BuildNoopServer(Path.Combine(registry.Certificates, Host.DevelopmentCertificates.ServerFileName), noopPort);
        await noopHttp.StartAsync(cancel);
        using var http = BenchHost.CreateClient(Path.Combine(registry.Certificates, Host.DevelopmentCertificates.CaFileName), options.Concurrency);
        var loadBefore = Measurement.LoadAverage();
        try
        {
            var clientBuilder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
            clientBuilder.Logging.ClearProviders();
            clientBuilder.UseOrleansClient(client => client.UseLocalhostClustering(gatewayPort, "bench-" + name, "bench-" + name));
            using var clientHost = clientBuilder.Build();
            await clientHost.StartAsync(cancel);
            var grains = clientHost.Services.GetRequiredService<IClusterClient>();

            var rssBaseline = Measurement.Rss();
            long onlineErrors = 0;
            var ids = Enumerable.Range(0, options.Devices).Select(i => $"hb-{i:D7}").ToArray();
            var fill = Stopwatch.StartNew();
            await Fill(grains, ids, progress, cancel);
            fill.Stop();
            var online = TimeSpan.Zero;
            if (!options.BeatAfterCreate)
            {
                // A fleet registered earlier, then online: the fill's activations (interleaved with its requests' and
                // storage's objects) are collected, as idle devices are, and each device comes back with its first beat.
                var started = Stopwatch.StartNew();
                await grains.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);
                GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
                await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = options.Concurrency, CancellationToken = cancel }, async (id, _) =>
                {
                    if (await grains.GetGrain<IDeviceGrain>(id).Heartbeat() != DeviceAccess.Granted)
                    {
                        Interlocked.Increment(ref onlineErrors);
                    }
                });
                online = started.Elapsed;
                progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"online: {ids.Length:N0} devices collected and brought back by a heartbeat each in {online.TotalSeconds:0.0} s"));
            }
            // The ceiling calls as many grains as beat, each already active as every device is after the fill: the
            // same activation count, key shape and round-robin, so neither side gains cache hits the other lacks.
            var noopGrains = Math.Min(options.NoopGrains ?? ids.Length, ids.Length);
            await Parallel.ForEachAsync(ids.Take(noopGrains), new ParallelOptions { MaxDegreeOfParallelism = options.Concurrency, CancellationToken = cancel },
                async (id, _) => await grains.GetGrain<INoopGrain>(id).Ping());
            var rssAfterFill = Measurement.Rss();
            var expiry = DateTimeOffset.UtcNow.AddHours(12);
            var tokens = ids.Take(options.HttpsDevices)
                .Select(id => Gateway.Security.SharedAccessSignature.Create($"localhost/devices/{id}", DeviceKey, null, expiry)).ToArray();
            var body = "{\"heartbeat\":true}"u8.ToArray();

            var errors = onlineErrors;
            var rounds = new List<HeartbeatRound>();
            for (var round = 0; round <= options.Rounds && !cancel.IsCancellationRequested; round++)
            {
                var time = round == 0 ? TimeSpan.FromSeconds(2) : options.PhaseTime;
                var noopPhase = new Measurement.Phase("noop-grain", options.Concurrency, async n =>
                    await GrainReferences<INoopGrain>.Get(grains, ids[n % noopGrains]).Ping() == 0);
                var singlePhase = new Measurement.Phase("heartbeat-grain", options.Concurrency, async n =>
                    await GrainReferences<IDeviceGrain>.Get(grains, ids[n % ids.Length]).Heartbeat() == DeviceAccess.Granted);
                var batches = Math.Max(1, options.Concurrency / Math.Max(1, options.Batch / 4));
                var batchPhase = new Measurement.Phase("heartbeat-batch", batches, async n =>
                {
                    var start = (int)(n * options.Batch % ids.Length);
                    var slice = new ArraySegment<string>(ids, start, Math.Min(options.Batch, ids.Length - start));
                    var answers = await grains.GetGrain<IHeartbeatBatchGrain>(0).Heartbeat(slice);
                    return answers.All(a => a == DeviceAccess.Granted);
                });
                if (options.Only is { } only)
                {
                    // For a profiler attached to this process: one phase alone, so its samples are that phase's.
                    var alone = only switch { "noop" => noopPhase, "single" => singlePhase, "batch" => batchPhase, _ => throw new ArgumentException($"--only {only}: noop, single or batch.") };
                    await alone.RunSliceAsync(time);
                    var result = alone.Result();
                    progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"round {round}: {only} alone {result.OpsPerSecond:N0} calls/s, p99 {result.P99Ms:0.0} ms; {result.Gc}; load {Measurement.LoadAverage()}"));
                    continue;
                }
                var grainResults = await Measurement.RunInterleavedAsync(time, options.Slice, noopPhase, singlePhase, batchPhase);
                var (noop, single, batch) = (grainResults[0], grainResults[1], grainResults[2]);
                PhaseResult? noopPost = null, https = null;
                if (tokens.Length > 0)
                {
                    var httpResults = await Measurement.RunInterleavedAsync(time, options.Slice,
                        new Measurement.Phase("noop-kestrel-post", options.Concurrency, async _ =>
                        {
                            using var response = await http.PostAsync($"https://127.0.0.1:{noopPort}/noop", new ByteArrayContent(body));
                            return response.IsSuccessStatusCode;
                        }),
                        new Measurement.Phase("heartbeat-https", options.Concurrency, async n =>
                        {
                            var i = (int)(n % tokens.Length);
                            using var request = new HttpRequestMessage(HttpMethod.Post, $"{registry.BaseAddress}/devices/{ids[i]}/messages/events?api-version=2021-04-12") { Content = new ByteArrayContent(body) };
                            request.Headers.TryAddWithoutValidation("Authorization", tokens[i]);
                            using var response = await http.SendAsync(request);
                            return response.IsSuccessStatusCode;
                        }));
                    (noopPost, https) = (httpResults[0], httpResults[1]);
                    errors += noopPost.Errors + https.Errors;
                }
                errors += noop.Errors + single.Errors + batch.Errors;
                if (round > 0)
                {
                    var result = new HeartbeatRound(noop, single, batch, options.Batch, noopPost, https);
                    rounds.Add(result);
                    progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"round {round}: noop {noop.OpsPerSecond:N0}/s, heartbeat {single.OpsPerSecond:N0}/s ({result.SingleRatio:0.00}), batch {result.BatchHeartbeats:N0}/s ({result.BatchRatio:0.00}), https {https?.OpsPerSecond:N0}/s ({result.HttpsRatio:0.00}); load {Measurement.LoadAverage()}"));
                    progress.WriteLine($"  noop {noop.Gc}; heartbeat {single.Gc}; batch {batch.Gc}");
                }
            }
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            var report = new HeartbeatReport(options, noopGrains, fill.Elapsed.TotalSeconds, online.TotalSeconds, rssBaseline, rssAfterFill, Measurement.Rss(), GC.GetTotalMemory(false),
                loadBefore, Measurement.LoadAverage(), rounds, errors);
            await clientHost.StopAsync(CancellationToken.None);
            return report;
        }
        finally
        {
            await noopHttp.StopAsync(CancellationToken.None);
            await noopHttp.DisposeAsync();
            await registry.StopAsync();
        }
    }

    /// <summary>Every device gets this key, so the benchmark can sign each device's own token.</summary>
    internal const string DeviceKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    /// <summary>Registers <paramref name="ids"/> by bulk create through the grain interface, each with <see cref="DeviceKey"/>.</summary>
    internal static Task Fill(IClusterClient grains, string[] ids, TextWriter progress, CancellationToken cancel) =>
        Fill(operations => grains.GetGrain<IDeviceRegistryGrain>(0).ApplyBulk(operations), ids, progress, cancel, TimeSpan.FromSeconds(1));

    /// <summary>How often a fill sends again the items storage did not answer in time, before the run gives up.</summary>
    internal const int FillAttempts = 10;

    /// <summary>
    /// The fill through <paramref name="apply"/> (a bulk of up to 100). Items answered <c>ServiceUnavailable</c> (storage did
    /// not answer within the registry's time bound: a durable registry on a saturated Azurite does) are sent again after
    /// <paramref name="backOff"/> as <c>createOrUpdate</c> (the first write may have landed after its timeout), up to
    /// <see cref="FillAttempts"/> times, as a client would. Any other error fails the fill. Once, a 100k soak's fill on a
    /// busy machine failed on the first such item and the run ended before its soak began.
    /// </summary>
    internal static async Task Fill(Func<BulkOperation[], Task<BulkOperationResult>> apply, string[] ids, TextWriter progress, CancellationToken cancel, TimeSpan backOff)
    {
        var chunks = ids.Chunk(RegistryLimits.MaxBulkOperations).ToArray();
        var auth = new AuthenticationMechanism(AuthenticationType.Sas, new SymmetricKey(DeviceKey, DeviceKey), null);
        long done = 0;
        long resent = 0;
        await Parallel.ForEachAsync(chunks, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancel }, async (chunk, token) =>
        {
            var pending = chunk;
            var mode = ImportMode.Create;
            for (var attempt = 1; ; attempt++)
            {
                var result = await apply(pending.Select(id => new BulkOperation(mode, new DeviceIdentityInput { DeviceId = id, Authentication = auth }, null)).ToArray());
                if (result.IsSuccessful)
                {
                    break;
                }
                var other = result.Errors.FirstOrDefault(e => e.ErrorCode != RegistryErrorCode.ServiceUnavailable);
                if (other is not null || attempt == FillAttempts)
                {
                    var error = other ?? result.Errors[0];
                    throw new InvalidOperationException($"The fill failed: {error.DeviceId} {error.ErrorCode}" +
                        (error.ErrorCode == RegistryErrorCode.ServiceUnavailable ? $" after {FillAttempts} attempts." : "."));
                }
                pending = [.. result.Errors.Select(e => e.DeviceId)];
                mode = ImportMode.CreateOrUpdate;
                Interlocked.Add(ref resent, pending.Length);
                await Task.Delay(backOff, token);
            }
            if (Interlocked.Add(ref done, chunk.Length) % 100_000 < chunk.Length)
            {
                progress.WriteLine($"filled {Interlocked.Read(ref done):N0} devices");
            }
        });
        if (resent > 0)
        {
            progress.WriteLine($"fill: {resent:N0} items answered ServiceUnavailable were sent again");
        }
    }
}
