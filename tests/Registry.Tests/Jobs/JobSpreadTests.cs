using Registry.Abstractions;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Jobs.JobBlobsHarness;

namespace Registry.Tests.Jobs;

/// <summary>
/// A job's chunks run on every active silo, not only where its job grain is: the silos are read from where each chunk
/// was applied or staged (the workers' gates record their silo), not from timing.
/// </summary>
[Collection(nameof(JobCluster))]
public sealed class JobSpreadTests(AzuriteFixture azurite)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(90);

    [Fact(Timeout = 300_000)]
    public async Task The_chunks_of_one_import_and_of_one_export_run_on_both_silos_of_the_cluster()
    {
        var cancellation = TestContext.Current.CancellationToken;
        var probe = new ChunkProbe();
        await using var cluster = await JobCluster.DeployAsync(azurite, probe, o => o.ImportChunkLines = 10);
        var jobs = cluster.Grains.GetGrain<IJobRegistryGrain>(0);
        var silos = cluster.Cluster.Silos.Select(s => s.SiloAddress).Order().ToArray();
        Assert.Equal(2, silos.Length);
        var (container, sas) = await NewContainerAsync(azurite);
        await UploadLinesAsync(container, "devices.txt", Enumerable.Range(0, 40).Select(i => Line(new { id = $"spread-{i:D2}" })));

        var import = await jobs.Create(new JobRequest { Type = JobType.Import, InputBlobContainerUri = sas, OutputBlobContainerUri = sas });
        Assert.Equal(JobStatus.Completed, (await WaitForEndAsync(cluster, import.JobId, cancellation)).Status);
        var importedOn = probe.Finished.Select(f => f.Silo).ToArray();
        Assert.Equal(4, importedOn.Length);
        Assert.Equal(silos, importedOn.Distinct().Order());

        var export = await jobs.Create(new JobRequest { Type = JobType.Export, OutputBlobContainerUri = sas });
        Assert.Equal(JobStatus.Completed, (await WaitForEndAsync(cluster, export.JobId, cancellation)).Status);
        var exportedOn = probe.Finished.Skip(importedOn.Length).Select(f => f.Silo).ToArray();
        Assert.Equal(RegistryClusterFixture.Partitions, exportedOn.Length);
        Assert.Equal(silos, exportedOn.Distinct().Order());
        Assert.Equal(40, (await ReadLinesAsync(container, "devices.txt")).Length);
    }

    private static async Task<JobProperties> WaitForEndAsync(JobCluster cluster, string jobId, CancellationToken cancellation)
    {
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        bound.CancelAfter(Bound);
        while (true)
        {
            var job = (await cluster.Grains.GetGrain<IJobGrain>(jobId).Get().WaitAsync(bound.Token))!;
            if (job.Status.IsTerminal())
            {
                return job;
            }
            await Task.Delay(50, bound.Token);
        }
    }
}
