using Registry.Tests.Infrastructure;
using static Registry.Tests.Failure.FailureSteps;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Failure;

/// <summary>
/// SIGTERM to one of two silo processes while devices beat: it writes its devices' last heartbeats before it ends (presence
/// is otherwise written only every <c>PresencePersistSeconds</c>, here an hour), and the move of its devices to the other
/// silo announces none that kept beating.
/// </summary>
[Collection(FailureCollection.Name)]
public sealed class GracefulShutdownTests(AzuriteFixture azurite)
{
    private const int Devices = 200;

    /// <summary>
    /// Interval 15 s + grace 5 s, not the kill tests' 35 s: nothing is killed, so no call waits out a response timeout to a
    /// dead silo, and the beats the stop holds are served again within seconds (5.4 s, 2026-12-06). A silent device the
    /// stop moved is announced a deadline after its partition comes back plus one after its grain does (a grain activated
    /// anew measures from its activation), so each second off the deadline is two off the test: 64 s of waiting at 35 s.
    /// </summary>
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    [Fact(Timeout = 300_000)]
    public async Task A_silo_stopped_by_sigterm_writes_its_devices_last_heartbeats_and_raises_no_false_alert()
    {
        var ct = TestContext.Current.CancellationToken;
        var steps = new StepTimes();
        await using var cluster = new FailureCluster(azurite.ConnectionString,
            [.. Monitoring, "--Registry:PresencePersistSeconds=3600", "--Registry:Heartbeat:IntervalSeconds=15", "--Registry:Heartbeat:GraceSeconds=5"]);
        var silos = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => cluster.StartSiloAsync(ct)));
        var gateway = await cluster.StartGatewayAsync(ct);
        var client = await cluster.Processes.ClientAsync(ct);
        using var http = await cluster.OwnerAsync(gateway, ct);
        steps.Done("cluster started");

        var ids = Enumerable.Range(0, Devices).Select(i => $"beat-{i:D4}").ToList();
        await RegisterAsync(http, ids);
        await using var devices = new BeatingDevices(() => http, ids, BeatPeriod);
        devices.Start();
        devices.Mark();
        await devices.UntilServedSinceMarkAsync(ids, ct);
        steps.Done("registered and beating");

        var placement = await PlacementAsync(client, ids);
        var stopping = BusiestSilo(silos, placement);
        var moved = ids.Where(id => placement[id] == stopping.SiloPort).ToList();
        // Silent ones are also the devices whose last heartbeat is checked.
        var silent = OneSilentPerPartition(ids, placement, stopping)
            .Concat(moved.Take(10))
            .Distinct()
            .ToList();
        var beating = ids.Except(silent).ToList();
        var silentMoved = silent.Intersect(moved).ToList();
        Assert.NotEmpty(silentMoved);

        devices.Silence(silent);
        await devices.DrainAsync(silent, ct);
        steps.Done("silenced");
        Assert.Equal(0, await stopping.Process.TerminateAsync(ct));
        steps.Done("sigterm to exit");
        devices.Mark();
        await devices.UntilServedSinceMarkAsync(beating, ct);
        steps.Done("beating served");
        Report($"beats refused around the stop: {SiloKillTests.Describe(devices.Refusals)}");
        await UntilAsync(() => silent.All(id => cluster.MissedAlertsFor(id) > 0), ct);
        steps.Done("silent announced");
        steps.Report();

        // Read on the other silo from what the stopped one wrote: each silent device's last acknowledged heartbeat.
        foreach (var id in silentMoved)
        {
            var device = await http.GetDeviceJsonAsync(id);
            var lastActivity = DateTimeOffset.Parse((string)device["lastActivityTime"]!, System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(lastActivity >= devices.LastAcknowledgedSend(id), $"{id}: lastActivityTime {lastActivity:O}, last heartbeat sent {devices.LastAcknowledgedSend(id):O}");
            using var response = await http.GetAsync($"devices/{id}/heartbeat?{ApiVersion}", ct);
            var status = (await response.ReadJsonAsync(System.Net.HttpStatusCode.OK)).AsObject();
            var lastHeartbeat = DateTimeOffset.Parse((string)status["lastHeartbeatTime"]!, System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(lastHeartbeat >= devices.LastAcknowledgedSend(id), $"{id}: lastHeartbeatTime {lastHeartbeat:O}, last heartbeat sent {devices.LastAcknowledgedSend(id):O}");
        }
        AssertNoFalseAlert(cluster, devices, beating, Deadline);
        Assert.All(silent, id => Assert.Equal(1, cluster.MissedAlertsFor(id)));
        Assert.All(devices.Refusals.Keys.Where(status => status != 0), status => Assert.Equal(503, status));
    }
}
