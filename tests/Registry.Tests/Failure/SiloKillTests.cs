using Registry.Tests.Infrastructure;
using static Registry.Tests.Failure.FailureSteps;

namespace Registry.Tests.Failure;

/// <summary>
/// <c>kill -9</c> of one of three silo processes under load, on Azurite, with a gateway process in front: nothing that was
/// acknowledged is lost, the killed silo's devices are served again, and monitoring announces no device that kept beating.
/// </summary>
public sealed class SiloKillTests(AzuriteFixture azurite)
{
    /// <summary>Devices beating through the gateway, every 5 s: the 1,000.</summary>
    private const int Devices = 1000;

    [Fact(Timeout = 600_000)]
    public async Task Killing_one_of_three_silos_loses_no_acknowledged_write_serves_its_devices_again_and_announces_only_the_silent_ones()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var cluster = new FailureCluster(azurite.ConnectionString, Monitoring);
        var silos = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => cluster.StartSiloAsync(ct)));
        var gateway = await cluster.StartGatewayAsync(ct);
        var client = await cluster.Processes.ClientAsync(ct);
        using var http = await cluster.OwnerAsync(gateway, ct);

        var ids = Enumerable.Range(0, Devices).Select(i => $"beat-{i:D4}").ToList();
        await RegisterAsync(http, ids);
        await using var devices = new BeatingDevices(() => http, ids, BeatPeriod);
        devices.Start();
        devices.Mark();
        await devices.UntilServedSinceMarkAsync(ids, ct);

        // The victim is the silo holding the most devices; in each monitor partition one device (on the victim where
        // possible) falls silent at the kill: its alert shows that partition checked its deadlines after the failover.
        var placement = await PlacementAsync(client, ids);
        var victim = BusiestSilo(silos, placement);
        var lost = ids.Where(id => placement[id] == victim.SiloPort).ToList();
        var silent = OneSilentPerPartition(ids, placement, victim);
        var beating = ids.Except(silent).ToList();
        Assert.NotEmpty(lost.Except(silent));

        await using var writes = new WriteLedger(http, "write", writers: 4);
        await writes.UntilAcknowledgedAsync(20, ct);
        devices.Silence(silent);
        devices.Mark();
        var killed = DateTimeOffset.UtcNow;
        await FailureCluster.KillAsync(victim.Process, ct);

        await devices.UntilServedSinceMarkAsync(beating, ct);
        var servedAgain = lost.Except(silent).Max(id => devices.FirstServedSinceMark(id)!.Value) - killed;
        Report($"{lost.Count} of {Devices} devices were on the killed silo; all served again {servedAgain.TotalSeconds:0.0} s after the kill " +
            $"(beat refusals meanwhile: {Describe(devices.Refusals)}; write refusals: {Describe(writes.Refusals)})");
        await writes.UntilAcknowledgedAsync(20, ct);
        await UntilAsync(() => silent.All(id => cluster.MissedAlertsFor(id) > 0), ct);
        await writes.StopAsync();

        Assert.Empty(await writes.LostAsync(http));
        var kept = AssertNoFalseAlert(cluster, devices, beating);
        Assert.NotEmpty(kept.Intersect(lost));
        Assert.All(silent, id => Assert.Equal(1, cluster.MissedAlertsFor(id)));
        // While the silo was being declared dead, what could not be served answered 503, never 500.
        // (0 counts a request this overloaded machine left unanswered for the client's 90 s; a 500 would be a bug.)
        Assert.All(devices.Refusals.Keys.Concat(writes.Refusals.Keys).Where(status => status != 0), status => Assert.Equal(503, status));
    }

    public static string Describe(System.Collections.Concurrent.ConcurrentDictionary<int, int> refusals) =>
        refusals.IsEmpty ? "none" : string.Join(", ", refusals.OrderBy(r => r.Key).Select(r => $"{r.Value}× {r.Key}"));
}

