using System.Diagnostics;
using System.Globalization;
using Registry.Abstractions;
using Registry.Grains.Heartbeats;
using Registry.Host;

namespace Registry.Bench.Heartbeats;

/// <summary>
/// The heartbeat monitor's cost at scale, measured on one in-process silo: managed memory per watched device (the
/// partitions' deadline queues after a full GC), the store writes that joining costs (group-committed), and the reminder
/// rows (partitions that watch anything). Each round starts a fresh silo; the median of the rounds is reported. Usage:
///   dotnet run -c Release --project loadtests/Registry.Bench -- monitor-cost [--devices 1000000] [--partitions 256] [--rounds 3]
/// Devices keep beating in steady state, which costs the monitor nothing: no call, no write (see the README).
/// </summary>
public static class MonitorCostCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        BenchArgs.Check("monitor-cost", args, ["--devices", "--partitions", "--rounds"], []);
        var devices = Option(args, "--devices", 1_000_000);
        var partitions = Option(args, "--partitions", 256);
        var rounds = Option(args, "--rounds", 3);
        Console.WriteLine($"monitor-cost: {devices:N0} watched devices, {partitions} partitions, {rounds} rounds, {Environment.ProcessorCount} cores");
        var results = new List<RoundResult>();
        for (var round = 1; round <= rounds; round++)
        {
            var result = await RoundAsync(devices, partitions);
            results.Add(result);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"round {round}: {result.BytesPerDevice:F0} B/device, {result.Writes:N0} store writes for {result.Records:N0} joins, {result.Reminders} reminder rows, joined in {result.Seconds:F1} s"));
        }
        var median = results.OrderBy(r => r.BytesPerDevice).ElementAt(results.Count / 2);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"median: {median.BytesPerDevice:F0} B/device ({median.BytesPerDevice * devices / 1024 / 1024:F0} MiB for {devices:N0}), {median.Writes:N0} store writes for {median.Records:N0} joins, {median.Reminders} reminder rows"));
        return 0;
    }

    private static async Task<RoundResult> RoundAsync(int devices, int partitions)
    {
        var store = new CountingStore();
        var ports = BenchHost.FreePorts(2);
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<IHeartbeatStore>(store);
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering(ports[0], ports[1]);
            SiloConfiguration.ConfigureServices(silo, new RegistrySettings { IndexPartitions = partitions });
        });
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            var grains = host.Services.GetRequiredService<IGrainFactory>();
            // Activate every partition first, so their fixed cost is outside the per-device figure.
            await Task.WhenAll(Enumerable.Range(0, partitions).Select(p => grains.GetGrain<IHeartbeatMonitorGrain>(p).Count()));
            var before = Settled();
            // A day-long policy: no deadline passes while measuring, so no device grain is asked (or activated).
            var policy = new HeartbeatPolicy(HeartbeatPolicy.MaxSeconds, 60);
            var now = DateTime.UtcNow;
            var clock = Stopwatch.StartNew();
            const int Batch = 2000;
            for (var start = 0; start < devices; start += Batch)
            {
                await Task.WhenAll(Enumerable.Range(start, Math.Min(Batch, devices - start)).Select(i =>
                {
                    var id = $"device-{i:D8}";
                    return grains.GetGrain<IHeartbeatMonitorGrain>(DevicePartitioner.PartitionOf(id, partitions)).Watch(id, policy, now, null);
                }));
            }
            var seconds = clock.Elapsed.TotalSeconds;
            var after = Settled();
            var counts = await Task.WhenAll(Enumerable.Range(0, partitions).Select(p => grains.GetGrain<IHeartbeatMonitorGrain>(p).Count()));
            if (counts.Sum() != devices)
            {
                throw new InvalidOperationException($"watched {counts.Sum()} of {devices}");
            }
            return new RoundResult((after - before) / (double)devices, store.Writes, store.Records, counts.Count(c => c > 0), seconds);
        }
        finally
        {
            await host.StopAsync();
        }
    }

    private static long Settled()
    {
        for (var i = 0; i < 3; i++)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    private static int Option(string[] args, string name, int fallback)
    {
        return BenchArgs.Value(args, name) is { } value ? BenchArgs.Int(name, value) : fallback;
    }

    private readonly record struct RoundResult(double BytesPerDevice, long Writes, long Records, int Reminders, double Seconds);

    /// <summary>Counts what the monitor would write, keeping nothing: the measured memory is the partitions' own.</summary>
    private sealed class CountingStore : IHeartbeatStore
    {
        private long _writes;
        private long _records;

        public long Writes => Interlocked.Read(ref _writes);

        public long Records => Interlocked.Read(ref _records);

        public Task<IReadOnlyList<MonitoredDevice>> Load(int partition) => Task.FromResult<IReadOnlyList<MonitoredDevice>>([]);

        public Task Apply(int partition, IReadOnlyList<MonitorChange> changes)
        {
            Interlocked.Increment(ref _writes);
            Interlocked.Add(ref _records, changes.Count);
            return Task.CompletedTask;
        }
    }
}
