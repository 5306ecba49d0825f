using Registry.LoadTests.Harness;
using Registry.LoadTests.Reports;
using Registry.LoadTests.Scenarios;

namespace Registry.Tests.LoadTests;

/// <summary>What a whole run reports about how its steps were bounded.</summary>
public sealed class LoadRunTests
{
    /// <summary>A scenario of one step that carries its own bounds, as an import job or a soak phase does.</summary>
    private sealed class OwnBoundsScenario : IScenario
    {
        public LoadModel DefaultModel => LoadModel.Closed(1);

        public IReadOnlyList<string> Notes => [];

        public Task<IReadOnlyList<Step>> PrepareAsync(ScenarioContext context, CancellationToken cancel) =>
            Task.FromResult<IReadOnlyList<Step>>([new Step("job", (_, _) => ValueTask.FromResult<string?>(null))
            {
                Bounds = new RunBounds(TimeSpan.FromMinutes(30), 1, TimeSpan.Zero, TimeSpan.FromMinutes(30)),
                WarmUp = false,
            }]);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>
    /// The header gave the run's bounds ("each step 0.5 s, after a 5 s warm-up (discarded)") for an import-export run
    /// whose steps each ran one job to its end with no warm-up; report.json still gave them after the header was mended
    /// (a hostile review, 2026-12-02: bounds of 10 s, 2 s and 30 s in an import-export report).
    /// </summary>
    [Fact]
    public async Task A_run_whose_steps_bound_themselves_does_not_report_the_run_bounds_as_theirs()
    {
        var options = new HarnessOptions(null, new RunBounds(TimeSpan.FromMilliseconds(500), null, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(1)), 1, false, false, false, null);

        var report = await LoadRun.RunAsync("own-bounds", new OwnBoundsScenario(), options, "own-bounds", null, _ => { }, TestContext.Current.CancellationToken);
        var markdown = ReportWriter.ToMarkdown(report);

        Assert.Contains("each step bounded by the scenario, with no warm-up (see Steps)", markdown, StringComparison.Ordinal);
        Assert.DoesNotContain("warm-up (discarded)", markdown, StringComparison.Ordinal);
        Assert.DoesNotContain("0.5 s", markdown, StringComparison.Ordinal);
        using var json = System.Text.Json.JsonDocument.Parse(ReportWriter.ToJson(report));
        Assert.Equal(System.Text.Json.JsonValueKind.Null, json.RootElement.GetProperty("bounds").ValueKind);
        Assert.True(json.RootElement.GetProperty("stepsBoundThemselves").GetBoolean());
    }

    [Theory]
    [InlineData("--duration", "500ms")]
    [InlineData("--warmup", "5s")]
    [InlineData("--count", "10")]
    [InlineData("--drain", "1s")]
    [InlineData("--ceiling-duration", "1s")]
    public void Import_export_refuses_run_bounds_that_would_bound_none_of_its_jobs(string option, string value)
    {
        var e = Assert.Throws<ArgumentException>(() => new ImportExportScenario(new Arguments([option, value])));
        Assert.Contains(option, e.Message, StringComparison.Ordinal);
    }
}
