using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Registry.Grains.Jobs;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Jobs.JobBlobsHarness;

namespace Registry.Tests.Jobs;

/// <summary>
/// A running job's <c>progress</c> is real: an import's shows the input it has applied and checkpointed as soon as a
/// chunk is, even when that is under a percent of a large input. One-line chunks, one in flight, and every chunk after
/// the first held: the job stands still mid-way, deterministically, with exactly its first line checkpointed.
/// </summary>
public sealed class JobProgressTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private readonly HoldChunks _held = new(chunk => chunk.Offset > 0); // every chunk after the first
    private RegistryTestHost _host = null!;
    private HttpClient _http = null!;

    public async ValueTask InitializeAsync()
    {
        // One chunk of one line at a time through the operator's settings (the silo applies them over the options a test configures).
        _host = await RegistryTestHost.StartAsync(
            new Dictionary<string, string?> { ["Registry:ImportChunksInFlight"] = "1", ["Registry:ImportChunkLines"] = "1" },
            configure: b => b.Services.AddSingleton<IImportChunkGate>(_held));
        _http = _host.CreateClient();
    }

    public async ValueTask DisposeAsync()
    {
        _held.Release();
        _http.Dispose();
        await _host.DisposeAsync();
    }

    [Fact]
    public async Task A_held_import_mid_way_shows_progress_between_0_and_100_while_its_first_line_is_under_a_percent_of_the_input()
    {
        // The first line is ~30 bytes of ~30 KB: 0.1% of the input, applied and checkpointed before the second is held.
        string[] lines = [Line(new { id = "progress-1" }), "# " + new string('x', 30_000), Line(new { id = "progress-2" })];
        var (container, sas) = await NewContainerAsync(azurite);
        await UploadLinesAsync(container, "devices.txt", lines);

        var jobId = (string)(await _http.CreateJobAsync(new { type = "import", inputBlobContainerUri = sas, outputBlobContainerUri = sas }))["jobId"]!;
        await _held.Entered.Within();
        var mid = await _http.GetJobAsync(jobId);

        Assert.Equal("running", (string)mid["status"]!);
        Assert.InRange((int)mid["progress"]!, 1, 99);
        _held.Release();
        var ended = await _http.WaitForEndAsync(jobId);
        Assert.Equal("completed", (string)ended["status"]!);
        Assert.Equal(100, (int)ended["progress"]!);
    }

    [Fact]
    public async Task A_later_chunk_that_ends_while_the_first_is_held_moves_the_progress_before_the_checkpoint_does()
    {
        var held = new HoldChunks(chunk => chunk.Offset == 0);
        await using var host = await RegistryTestHost.StartAsync(
            new Dictionary<string, string?> { ["Registry:ImportChunksInFlight"] = "2", ["Registry:ImportChunkLines"] = "1" },
            configure: b => b.Services.AddSingleton<IImportChunkGate>(held));
        using var http = host.CreateClient();
        var (container, sas) = await NewContainerAsync(azurite);
        await UploadLinesAsync(container, "devices.txt", [Line(new { id = "progress-ahead-1" }), Line(new { id = "progress-ahead-2", statusReason = new string('x', 100) })]);

        var jobId = (string)(await http.CreateJobAsync(new { type = "import", inputBlobContainerUri = sas, outputBlobContainerUri = sas }))["jobId"]!;
        JsonObject mid;
        try
        {
            await held.OtherApplied.Within();
            // The second line's chunk has ended while the first is still held: the job shows it (nothing is checkpointed yet).
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            deadline.CancelAfter(TimeSpan.FromSeconds(30));
            while ((int)(mid = await http.GetJobAsync(jobId))["progress"]! == 0 && !deadline.IsCancellationRequested)
            {
                await Task.Delay(50, CancellationToken.None);
            }
        }
        finally
        {
            held.Release(); // also when the test failed: the held chunk must not keep the host from stopping
        }

        Assert.Equal("running", (string)mid["status"]!);
        Assert.InRange((int)mid["progress"]!, 50, 99); // the second line is more than half of the input's bytes
        var ended = await http.WaitForEndAsync(jobId);
        Assert.Equal("completed", (string)ended["status"]!);
        Assert.Equal(100, (int)ended["progress"]!);
        foreach (var id in new[] { "progress-ahead-1", "progress-ahead-2" })
        {
            using var response = await http.GetDeviceAsync(id);
            Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        }
    }

    /// <summary>
    /// Holds the chunks <c>held</c> picks until released, saying when one is held (<see cref="Entered"/>) and when a chunk
    /// it let through was applied (<see cref="OtherApplied"/>).
    /// </summary>
    private sealed class HoldChunks(Func<ImportChunk, bool> held) : IImportChunkGate
    {
        private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _otherApplied = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Entered => _entered.Task;

        public Task OtherApplied => _otherApplied.Task;

        public void Release() => _released.TrySetResult();

        public async Task Enter(ImportChunk chunk)
        {
            if (held(chunk))
            {
                _entered.TrySetResult();
                await _released.Task;
            }
        }

        public void Applied(ImportChunk chunk)
        {
            if (!held(chunk))
            {
                _otherApplied.TrySetResult();
            }
        }
    }
}
