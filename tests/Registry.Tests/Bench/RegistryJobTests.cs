using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using Registry.Bench.Jobs;

namespace Registry.Tests.Bench;

/// <summary>How the load harness and the bench drive a job: polled to its end, cancelled when the caller gives up.</summary>
public sealed class RegistryJobTests
{
    /// <summary>
    /// A SIGTERM during a 1M import into Azurite (2026-12-02) stopped the polling and then waited on the job's cancel,
    /// which the registry answers once the chunks in flight have stopped: minutes on overloaded storage. The cancel is
    /// now waited for <see cref="RegistryJob.CancelWait"/> at most, and the caller's stop goes on.
    /// </summary>
    [Fact(Timeout = 30_000)]
    public async Task A_caller_that_gives_up_sends_the_cancel_and_waits_for_its_answer_no_longer_than_the_cancel_wait()
    {
        var time = new FakeTimeProvider();
        var registry = new UnansweredCancel();
        using var http = new HttpClient(registry);
        using var caller = new CancellationTokenSource();

        string? said = null;
        var run = RegistryJob.RunAsync(http, "https://registry.test", new JsonObject { ["type"] = "import" }, TimeSpan.FromHours(1), null, caller.Token, time,
            cancelled: s => said = s);
        await registry.Polled.Task.WaitAsync(TestContext.Current.CancellationToken);
        await caller.CancelAsync();
        await registry.CancelSent.Task.WaitAsync(TestContext.Current.CancellationToken);
        Assert.False(run.IsCompleted, "the run ended before the cancel was answered or its wait was over");

        time.Advance(RegistryJob.CancelWait);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.WaitAsync(TestContext.Current.CancellationToken));
        Assert.Equal("/jobs/job-1", registry.CancelPath);
        // The caller can report how far the job went and that its cancel was not answered (a stopped run's report said neither).
        Assert.Equal("import job job-1 given up at 53 % (running); its cancel (DELETE /jobs/job-1) was not answered within 30 s, so it may still run in the registry", said);
    }

    /// <summary>A registry whose job runs on and whose cancel is never answered (its answer waits on chunks that do not stop).</summary>
    private sealed class UnansweredCancel : HttpMessageHandler
    {
        public TaskCompletionSource Polled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource CancelSent { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string? CancelPath { get; private set; }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.Method == HttpMethod.Delete)
            {
                CancelPath = request.RequestUri!.AbsolutePath;
                CancelSent.TrySetResult();
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            if (request.Method == HttpMethod.Get)
            {
                Polled.TrySetResult();
            }
            return new HttpResponseMessage(HttpStatusCode.OK)
            {
                Content = new StringContent("""{"jobId":"job-1","type":"import","status":"running","progress":53}""", Encoding.UTF8, "application/json"),
            };
        }
    }
}
