using Microsoft.Extensions.DependencyInjection;
using Registry.Grains.Jobs;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Jobs.JobBlobsHarness;

namespace Registry.Tests.Jobs;

/// <summary>
/// A job survives the loss of the silo running it: two registry processes in one cluster on Azurite (durable job state and
/// reminders), the job's silo stops mid-import with one chunk applied but not checkpointed and another never applied; the
/// reminder resumes the job on the other silo, which re-applies from the checkpoint: every device once, no error logged.
/// </summary>
public sealed class JobFailoverTests(AzuriteFixture azurite)
{
    /// <summary>Holds the chunk at offset 0 (so the checkpoint cannot pass it) and signals each chunk applied.</summary>
    private sealed class FirstChunkHeld : IImportChunkGate
    {
        private readonly TaskCompletionSource _held = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _secondApplied = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Held => _held.Task;

        public Task SecondApplied => _secondApplied.Task;

        public void Release() => _release.TrySetResult();

        public Task Enter(ImportChunk chunk)
        {
            if (chunk.Offset != 0)
            {
                return Task.CompletedTask;
            }
            _held.TrySetResult();
            return _release.Task;
        }

        public void Applied(ImportChunk chunk)
        {
            if (chunk.Offset != 0)
            {
                _secondApplied.TrySetResult();
            }
        }
    }

    private static Task<RegistryTestHost> StartAsync(Dictionary<string, string?> settings, FirstChunkHeld gate) =>
        RegistryTestHost.StartAsync(settings, configure: b =>
        {
            b.Services.AddSingleton<IImportChunkGate>(gate);
            // Two chunks of 20 lines in flight at once; a reminder every few seconds rather than every minute.
            b.Services.Configure<JobOptions>(o =>
            {
                o.ImportChunkLines = 20;
                o.ImportChunksInFlight = 2;
                o.ReminderPeriod = TimeSpan.FromSeconds(3);
            });
            b.Services.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = TimeSpan.FromSeconds(1));
        });

    [Fact]
    public async Task An_import_whose_silo_stops_mid_way_completes_on_the_other_silo_with_every_line_applied_once()
    {
        var service = "job" + Guid.NewGuid().ToString("N")[..8];
        var settings = new Dictionary<string, string?>
        {
            ["Registry:StorageConnectionString"] = azurite.ConnectionString,
            ["Registry:StoragePrefix"] = service,
            ["Registry:ServiceId"] = service,
            ["Registry:ClusterId"] = service,
        };
        var ids = Enumerable.Range(0, 40).Select(i => $"failover-{i:D2}").ToArray();
        var (container, sas) = await NewContainerAsync(azurite);
        await UploadLinesAsync(container, "devices.txt", ids.Select(id => Line(new { id, importMode = "create", statusReason = "imported" })));

        FirstChunkHeld gateA = new(), gateB = new();
        var hostA = await StartAsync(settings, gateA);
        var hostB = await StartAsync(settings, gateB);
        RegistryTestHost? survivor = null;
        try
        {
        using var viaB = hostB.CreateClient();
        var jobId = (string)(await viaB.CreateJobAsync(new { type = "import", inputBlobContainerUri = sas, outputBlobContainerUri = sas }))["jobId"]!;

        // Whichever silo runs the job holds its first chunk; the other lets everything through.
        var running = await Task.WhenAny(gateA.Held, gateB.Held);
        var (doomed, doomedGate, survivorGate) = running == gateA.Held ? (hostA, gateA, gateB) : (hostB, gateB, gateA);
        survivorGate.Release();
        await doomedGate.SecondApplied;
        survivor = doomed == hostA ? hostB : hostA;
        using var viaSurvivor = survivor.CreateClient();

        await doomed.DisposeAsync();
        var job = await viaSurvivor.WaitForEndAsync(jobId);

        Assert.Equal("completed", (string)job["status"]!);
        Assert.Equal(100, (int)job["progress"]!);
        Assert.Empty(await ReadLinesAsync(container, "importErrors.log"));
        foreach (var id in ids)
        {
            Assert.Equal("imported", (string?)(await viaSurvivor.GetDeviceJsonAsync(id))["statusReason"]);
        }
        Assert.Equal(ids.Length, (await viaSurvivor.StatisticsAsync()).Count("totalDeviceCount"));
        }
        finally
        {
            gateA.Release();
            gateB.Release();
            if (survivor is null)
            {
                await hostA.DisposeAsync();
                await hostB.DisposeAsync();
            }
            else
            {
                await survivor.DisposeAsync();
            }
        }
    }
}
