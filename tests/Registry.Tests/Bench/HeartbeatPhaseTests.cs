using Registry.Bench.Heartbeats;

namespace Registry.Tests.Bench;

/// <summary>
/// The benchmark's heartbeat command at a toy size: every heartbeat through the grain interface (single and batched)
/// and through the HTTPS device endpoint with each device's own token is granted, and the report holds one row per round. Never timing: the rates it prints are not asserted.
/// </summary>
public sealed class HeartbeatPhaseTests
{
    [Fact]
    public async Task Heartbeat_command_beats_every_device_without_a_failure_and_reports_each_round()
    {
        var options = new HeartbeatOptions
        {
            Devices = 300,
            Rounds = 2,
            PhaseTime = TimeSpan.FromSeconds(0.3),
            Concurrency = 8,
            Batch = 50,
            NoopGrains = 100,
            HttpsDevices = 50,
        };

        var report = await HeartbeatBench.RunAsync(options, TextWriter.Null, TestContext.Current.CancellationToken);

        Assert.Equal(0, report.Errors);
        Assert.Equal(2, report.Rounds.Count);
        Assert.All(report.Rounds, r =>
        {
            Assert.True(r.Single.OpsPerSecond > 0 && r.Batch.OpsPerSecond > 0 && r.Noop.OpsPerSecond > 0);
            Assert.Equal(50, r.BatchSize);
            Assert.True(r.Https!.OpsPerSecond > 0 && r.NoopHttp!.OpsPerSecond > 0);
        });
        Assert.Contains("| **median** |", report.ToMarkdown(), StringComparison.Ordinal);
        Assert.Contains("came online as a fleet registered earlier does", report.ToMarkdown(), StringComparison.Ordinal);
        Assert.True(report.OnlineSeconds > 0);
        Assert.Equal(3, report.ToCsv().Trim().Split('\n').Length);
    }

    [Fact]
    public async Task Told_to_beat_after_create_the_command_skips_bringing_the_fleet_online_and_says_so()
    {
        var options = new HeartbeatOptions
        {
            Devices = 100,
            Rounds = 1,
            PhaseTime = TimeSpan.FromSeconds(0.2),
            Concurrency = 4,
            HttpsDevices = 0,
            BeatAfterCreate = true,
        };

        var report = await HeartbeatBench.RunAsync(options, TextWriter.Null, TestContext.Current.CancellationToken);

        Assert.Equal(0, report.Errors);
        Assert.Equal(0, report.OnlineSeconds);
        Assert.Contains("`--beat-after-create`", report.ToMarkdown(), StringComparison.Ordinal);
        Assert.True(HeartbeatOptions.Parse(["--beat-after-create"]).BeatAfterCreate);
        Assert.False(HeartbeatOptions.Parse([]).BeatAfterCreate);
    }
}
