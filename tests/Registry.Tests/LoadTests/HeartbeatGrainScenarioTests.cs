using Registry.LoadTests.Harness;
using Registry.LoadTests.Scenarios;

namespace Registry.Tests.LoadTests;

/// <summary>
/// <c>heartbeat-grain</c>'s ceiling is a no-op grain call over as many grains as it is told. The fill leaves every
/// device grain active, so the no-op grains are activated too before the ceiling is measured: at 1M no-op grains the
/// first round's ceiling otherwise timed mostly activations (42,607 calls/s, then 92,647 in the next round) and that
/// round's ratio came out 2.2.
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
}
