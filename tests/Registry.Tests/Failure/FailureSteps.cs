using System.Net;
using Registry.Abstractions;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Failure;

/// <summary>What the failure tests do alike: register devices, find where they live, wait on a condition (bounded), report a figure.</summary>
public static class FailureSteps
{
    /// <summary>The index (and heartbeat monitor) partitions of every <see cref="RegistryClusterProcesses"/> cluster.</summary>
    public const int Partitions = 4;

    /// <summary>How often the failure tests' devices beat.</summary>
    public static readonly TimeSpan BeatPeriod = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How fast the failure tests' silos declare a killed silo dead: probes time out after 2 s (Orleans adapts that between
    /// 1 and 8 s to the answers it sees) and three missed ones make a suspicion, where Orleans' defaults (5 s, 3) took about
    /// 35 s here. An operator's setting (README "Configuration"); the tests use it so a failover costs seconds, not half a
    /// minute of the suite's budget.
    /// </summary>
    public static readonly string[] FastFailureDetection = ["--Registry:ProbeTimeoutSeconds=2", "--Registry:MissedProbesLimit=3"];

    /// <summary>
    /// Interval 25 s + grace 10 s: a device is missed 35 s after its last heartbeat, well above the 5 s beat and above what
    /// a failover holds a heartbeat. With <see cref="FastFailureDetection"/> a dead silo is declared in seconds, but a call
    /// the survivors had forwarded to it is answered only by the caller's response timeout, here 10 s
    /// (<c>Registry:ResponseTimeoutSeconds</c>; Orleans' default 30 s held beats ~40 s and made these tests wait a 60 s
    /// deadline), and the device's next beat comes a period after that: ~20 s without an acknowledged beat. Below the
    /// 120 s that presence persistence lags here: a failover that lost a device's last heartbeat, or took the persisted
    /// one for it, would announce it.
    /// </summary>
    public static readonly string[] Monitoring =
    [
        "--Registry:Heartbeat:IntervalSeconds=25", "--Registry:Heartbeat:GraceSeconds=10", "--Registry:PresencePersistSeconds=120",
        "--Registry:ResponseTimeoutSeconds=10",
    ];

    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(35);

    /// <summary>
    /// Asserts that no device of <paramref name="beating"/> that kept beating was announced: kept beating means no gap
    /// between its acknowledged beats reached the deadline apart from the failure under test (this shared machine sometimes
    /// leaves a device unserved that long; such a device was silent for the registry and is left out, and counted).
    /// Returns the devices that kept beating.
    /// </summary>
    public static List<string> AssertNoFalseAlert(FailureCluster cluster, BeatingDevices devices, IEnumerable<string> beating, TimeSpan? deadline = null)
    {
        var within = deadline ?? Deadline;
        var kept = beating.Where(id => devices.LongestGap(id) < within).ToList();
        var announced = kept.Where(id => cluster.MissedAlertsFor(id) > 0).ToList();
        Report($"{kept.Count} of {beating.Count()} beating devices kept beating (no other gap of {within.TotalSeconds:0} s); " +
            $"{beating.Count(id => cluster.MissedAlertsFor(id) > 0)} beating devices announced in all");
        Assert.True(announced.Count == 0, $"{announced.Count} devices that kept beating were announced, e.g. " +
            string.Join(", ", announced.Take(5).Select(id => $"{id} (longest gap {devices.LongestGap(id).TotalSeconds:0.0} s)")) +
            $"; no answers: {string.Join(" | ", devices.NoAnswers.Select(n => $"{n.Value}× {n.Key}"))}");
        return kept;
    }

    /// <summary>
    /// Registers <paramref name="ids"/> through bulk requests of 100 (<c>createOrUpdate</c>, so an item answered 503 ServiceUnavailable,
    /// which this loaded machine's silos do answer, is sent again until registered; any other failure fails the test).
    /// </summary>
    public static async Task RegisterAsync(HttpClient http, IEnumerable<string> ids)
    {
        await Parallel.ForEachAsync(ids.Chunk(100), new ParallelOptions { MaxDegreeOfParallelism = 2 }, async (chunk, ct) =>
        {
            var pending = chunk.ToList();
            while (pending.Count > 0)
            {
                using var response = await http.BulkAsync(Json(pending.Select(id => new { id, importMode = "createOrUpdate" }).ToArray()));
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
                if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
                {
                    await Task.Delay(500, ct); // the whole request timed out: a client's back-off before it retries
                    continue;
                }
                var errors = (await response.ReadJsonAsync(HttpStatusCode.BadRequest))["errors"]!.AsArray();
                // Only 503s: a retried createOrUpdate whose first write landed after its timeout updates that row.
                Assert.All(errors, e => Assert.Equal("ServiceUnavailable", (string?)e!["errorCode"]));
                pending = errors.Where(e => (string?)e!["errorCode"] == "ServiceUnavailable").Select(e => (string)e!["deviceId"]!).ToList();
                await Task.Delay(500, ct); // a client's back-off before it retries
            }
        });
    }

    /// <summary>The silo port of the silo each device's grain is on now.</summary>
    public static async Task<Dictionary<string, int>> PlacementAsync(IClusterClient client, IEnumerable<string> ids)
    {
        var placed = new System.Collections.Concurrent.ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (id, _) =>
            placed[id] = await FailureCluster.SiloPortOf(client, client.GetGrain<IDeviceGrain>(id)));
        return new Dictionary<string, int>(placed, StringComparer.Ordinal);
    }

    /// <summary>The silo holding the most of the placed devices: the one whose loss moves the most.</summary>
    public static Silo BusiestSilo(IEnumerable<Silo> silos, Dictionary<string, int> placement) =>
        silos.MaxBy(s => placement.Values.Count(port => port == s.SiloPort))!;

    /// <summary>
    /// One device per monitor partition, on <paramref name="silo"/> where possible: silent from the failure on, its alert
    /// shows that partition checked its deadlines after it.
    /// </summary>
    public static List<string> OneSilentPerPartition(IEnumerable<string> ids, Dictionary<string, int> placement, Silo silo) =>
        ids.GroupBy(id => Registry.Abstractions.DevicePartitioner.PartitionOf(id, Partitions))
            .Select(p => p.OrderByDescending(id => placement[id] == silo.SiloPort).First())
            .ToList();

    /// <summary>Polls <paramref name="condition"/> until it holds; the test's token bounds the wait.</summary>
    public static async Task UntilAsync(Func<bool> condition, CancellationToken ct)
    {
        while (!condition())
        {
            await Task.Delay(100, ct);
        }
    }

    /// <summary>Polls <paramref name="condition"/> until it holds; the test's token bounds the wait.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, CancellationToken ct)
    {
        while (!await condition())
        {
            await Task.Delay(100, ct);
        }
    }

    /// <summary>
    /// How long each step of a failure test took, reported with <see cref="Report"/> as one figure line: where the suite's
    /// minutes go (a start, a registration, a wait for recovery or for the alerts' deadline).
    /// </summary>
    public sealed class StepTimes
    {
        private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
        private readonly List<(string Step, TimeSpan Took)> _steps = [];
        private TimeSpan _last;

        /// <summary>Ends the step <paramref name="step"/> now.</summary>
        public void Done(string step)
        {
            var now = _clock.Elapsed;
            _steps.Add((step, now - _last));
            _last = now;
        }

        public void Report() => FailureSteps.Report(
            $"steps ({_clock.Elapsed.TotalSeconds:0} s): " + string.Join(", ", _steps.Select(s => $"{s.Step} {s.Took.TotalSeconds:0.0} s")));
    }

    /// <summary>
    /// Reports a measured figure in the test's output and appends it to <c>TestResults/failure-figures.txt</c> (gitignored),
    /// so a few runs give the README's numbers. A figure, never an assertion.
    /// </summary>
    public static void Report(string figure)
    {
        var line = $"{DateTimeOffset.UtcNow:yyyy-MM-ddTHH:mm:ssZ} {TestContext.Current.Test?.TestDisplayName}: {figure}";
        TestContext.Current.TestOutputHelper?.WriteLine(line);
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Registry.Orleans.sln")))
        {
            dir = dir.Parent;
        }
        if (dir is not null)
        {
            Directory.CreateDirectory(Path.Combine(dir.FullName, "TestResults"));
            File.AppendAllLines(Path.Combine(dir.FullName, "TestResults", "failure-figures.txt"), [line]);
        }
    }
}
