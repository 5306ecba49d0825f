using Registry.Abstractions;
using Registry.LoadTests.Harness;
using Registry.LoadTests.Scenarios;

namespace Registry.Tests.LoadTests;

/// <summary>
/// <c>heartbeat-grain</c>'s ceiling is a no-op grain call over as many grains as it is told. The fill leaves every
/// device grain active, so the no-op grains are activated too before the ceiling is measured: at 1M no-op grains the
/// first round's ceiling otherwise timed mostly activations (42,607 calls/s, then 92,647 in the next round) and that
/// round's ratio came out 2.2. Its batch step counts as many heartbeats a call as the call carries: it counted
/// <c>--batch</c> a call, so 100 devices in batches of 1,000 reported 1,000 heartbeats a call for 100 sent.
/// </summary>
public sealed class HeartbeatGrainScenarioTests
{
    [Fact]
    public async Task Every_noop_grain_of_the_ceiling_is_active_before_the_ceiling_step_runs()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var scenario = new HeartbeatGrainScenario(new Arguments(["--devices", "30", "--noop-grains", "20", "--mode", "single"]));
        var options = HarnessOptions.Read(new Arguments(["--no-live"]));
        Assert.True(options.Ceiling);

        var steps = await scenario.PrepareAsync(new ScenarioContext(options, _ => { }), ct);

        Assert.Equal(["noop-grain", "heartbeat"], steps.Select(s => s.Name));
        var statistics = await scenario.Grains.GetGrain<IManagementGrain>(0).GetSimpleGrainStatistics();
        Assert.Equal(20, statistics.Where(s => s.GrainType.Contains(".NoopGrain", StringComparison.Ordinal)).Sum(s => s.ActivationCount));
        Assert.Contains(scenario.Notes, note => note.StartsWith("20 no-op grains activated before the ceiling is measured", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(100, 1000, 100)]
    [InlineData(150, 100, 75)]
    [InlineData(101, 100, 51)]
    public async Task Every_batch_call_carries_exactly_the_heartbeats_the_step_counts(int devices, int batch, int perCall)
    {
        var ids = Ids(devices);
        var sent = new List<IReadOnlyList<string>>();
        var step = HeartbeatGrainScenario.BatchStep(ids, batch, LoadModel.Closed(8), Granted(sent));

        for (var n = 0; n < 10; n++)
        {
            Assert.Null(await step.Call(n, TestContext.Current.CancellationToken));
        }

        Assert.All(sent, call => Assert.Equal(perCall, call.Count));
        Assert.Equal(perCall, step.ItemsPerCall);
        Assert.Contains($"{perCall} consecutive devices a call", step.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Over_two_consecutive_batch_calls_of_101_devices_in_batches_of_100_every_device_beats()
    {
        var ids = Ids(101);
        var sent = new List<IReadOnlyList<string>>();
        var step = HeartbeatGrainScenario.BatchStep(ids, 100, LoadModel.Closed(8), Granted(sent));

        for (var n = 0; n < 6; n++)
        {
            await step.Call(n, TestContext.Current.CancellationToken);
        }

        for (var n = 0; n + 1 < sent.Count; n++)
        {
            Assert.Equal(ids, sent[n].Concat(sent[n + 1]).Distinct().Order(StringComparer.Ordinal));
        }
    }

    private static string[] Ids(int devices) => [.. Enumerable.Range(0, devices).Select(i => $"hb-{i:D7}")];

    /// <summary>A send that keeps a copy of each call's ids and grants every heartbeat.</summary>
    private static Func<IReadOnlyList<string>, Task<DeviceAccess[]>> Granted(List<IReadOnlyList<string>> sent) => slice =>
    {
        sent.Add([.. slice]);
        return Task.FromResult(Enumerable.Repeat(DeviceAccess.Granted, slice.Count).ToArray());
    };
}
