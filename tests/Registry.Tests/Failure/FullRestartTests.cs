using Registry.Tests.Http;
using Registry.Tests.Infrastructure;
using Registry.Tests.Jobs;
using static Registry.Tests.Failure.FailureSteps;

namespace Registry.Tests.Failure;

/// <summary>
/// Every silo process killed (<c>kill -9</c>) and started again on its ports and data folder, under heartbeats, writes and a
/// running import, the gateway process staying up: nothing acknowledged is lost, the import ends exactly, monitoring
/// resumes (a device silent across the restart is announced, none that kept beating is), and meanwhile what could not be
/// served was answered 503, never 500.
/// </summary>
[Collection(FailureCollection.Name)]
public sealed class FullRestartTests(AzuriteFixture azurite)
{
    private const int Devices = 200;
    private const int Lines = 5_000;

    [Fact(Timeout = 360_000)]
    public async Task Restarting_every_silo_loses_nothing_acknowledged_and_monitoring_and_the_running_import_resume()
    {
        var ct = TestContext.Current.CancellationToken;
        var steps = new StepTimes();
        await using var cluster = new FailureCluster(azurite.ConnectionString, Monitoring);
        var silos = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => cluster.StartSiloAsync(ct)));
        var gateway = await cluster.StartGatewayAsync(ct);
        using var http = await cluster.OwnerAsync(gateway, ct);
        steps.Done("cluster started");

        var ids = Enumerable.Range(0, Devices).Select(i => $"beat-{i:D4}").ToList();
        await RegisterAsync(http, ids);
        var silent = ids.GroupBy(id => Registry.Abstractions.DevicePartitioner.PartitionOf(id, Partitions)).Select(p => p.First()).ToList();
        var beating = ids.Except(silent).ToList();
        await using var devices = new BeatingDevices(() => http, ids, BeatPeriod);
        devices.Start();
        devices.Mark();
        await devices.UntilServedSinceMarkAsync(ids, ct);
        steps.Done("registered and beating");

        var (container, sas) = await JobBlobsHarness.NewContainerAsync(azurite);
        var imported = Enumerable.Range(0, Lines).Select(i => $"imported-{i:D6}").ToList();
        await JobBlobsHarness.UploadLinesAsync(container, "devices.txt", imported.Select(id => JobBlobsHarness.Line(new { id, importMode = "create" })));
        await using var writes = new WriteLedger(http, "write", writers: 2);
        await writes.UntilAcknowledgedAsync(20, ct);
        // The kill follows the job's first "running" answer by one poll: a 5,000-line import takes seconds, so it is killed
        // mid-way however fast this machine imports (waiting for writes after the job started let a fast one finish first).
        var jobId = (string)(await http.CreateJobAsync(new { type = "import", inputBlobContainerUri = sas, outputBlobContainerUri = sas }))["jobId"]!;
        string? status = null;
        await UntilAsync(async () => (status = (string?)(await http.GetJobAsync(jobId))["status"]) != "enqueued", ct);
        Assert.Equal("running", status);

        steps.Done("import running");
        devices.Silence(silent);
        foreach (var silo in silos)
        {
            await FailureCluster.KillAsync(silo.Process, ct);
        }
        var killed = DateTimeOffset.UtcNow;
        devices.Mark();
        writes.Mark();
        // Each silo's own moment: the cluster serves once the first listens, so a figure from the last one can be negative.
        var listened = await Task.WhenAll(silos.Select(async s =>
        {
            await cluster.StartSiloAsync(s, ct);
            return DateTimeOffset.UtcNow;
        }));
        var (firstListened, restarted) = (listened.Min(), listened.Max());
        steps.Done("killed and restarted");

        await devices.UntilServedSinceMarkAsync(beating, ct);
        await UntilAsync(() => writes.FirstAcknowledgedSinceMark is not null, ct);
        steps.Done("beating and writes served");
        var served = beating.Max(id => devices.FirstServedSinceMark(id)!.Value);
        Report($"every silo killed; started again {(restarted - killed).TotalSeconds:0.0} s later (the first listened after {(firstListened - killed).TotalSeconds:0.0} s); " +
            $"{beating.Count} beating devices all served {(served - firstListened).TotalSeconds:0.0} s after the first silo listened " +
            $"({(served - restarted).TotalSeconds:0.0} s after the last), first write acknowledged {(writes.FirstAcknowledgedSinceMark!.Value - firstListened).TotalSeconds:0.0} s after the first " +
            $"(beat refusals: {SiloKillTests.Describe(devices.Refusals)}; write refusals: {SiloKillTests.Describe(writes.Refusals)})");
        var job = await ImportKillTests.EndAsync(http, jobId, ct);
        steps.Done("import ended");
        await UntilAsync(() => silent.All(id => cluster.MissedAlertsFor(id) > 0), ct);
        steps.Done("silent announced");
        await writes.StopAsync();
        var (listed, _) = await DeviceListTests.Walk(http, 1000, retryBusy: true, ct: ct);
        steps.Done("writes stopped, listed");
        steps.Report();

        Assert.Empty(await writes.LostAsync(http));
        Assert.Equal("completed", (string?)job["status"]);
        Assert.Empty(await JobBlobsHarness.ReadLinesAsync(container, "importErrors.log"));
        Assert.Equal(imported, listed.Where(id => id.StartsWith("imported-", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        AssertNoFalseAlert(cluster, devices, beating);
        Assert.All(silent, id => Assert.Equal(1, cluster.MissedAlertsFor(id)));
        // While no silo could be reached and while they started again, what could not be served answered 503, never 500.
        // (0 counts a request this overloaded machine left unanswered for the client's 90 s; a 500 would be a bug.)
        Assert.All(devices.Refusals.Keys.Concat(writes.Refusals.Keys).Where(status => status != 0), status => Assert.Equal(503, status));
    }
}
