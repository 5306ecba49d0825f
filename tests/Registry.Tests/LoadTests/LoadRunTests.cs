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
        // The run's bounds as the header would give them; "0.5 s" alone also matched the process line's wall time of a run
        // that happened to last 0.5 s (a fresh-clone run on a loaded machine, 2026-12-06).
        Assert.DoesNotContain("each step 0.5 s", markdown, StringComparison.Ordinal);
        Assert.DoesNotContain("5 s warm-up", markdown, StringComparison.Ordinal);
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

    /// <summary>Two one-call steps; the first's After, or the checks, throw as the scenario is told to.</summary>
    private sealed class ThrowingScenario(bool afterThrows, bool verifyThrows, bool disposeThrows, string? reportAt = null) : IScenario
    {
        public int SecondStepCalls;

        /// <summary>Whether report.json was in <c>reportAt</c> when the target was told to stop.</summary>
        public bool? ReportWrittenBeforeStop;

        public LoadModel DefaultModel => LoadModel.Closed(1);

        public IReadOnlyList<string> Notes => [];

        public Task<IReadOnlyList<Step>> PrepareAsync(ScenarioContext context, CancellationToken cancel) =>
            Task.FromResult<IReadOnlyList<Step>>([
                new Step("first", (_, _) => ValueTask.FromResult<string?>(null))
                {
                    Bounds = new RunBounds(TimeSpan.FromMinutes(1), 1, TimeSpan.Zero, TimeSpan.FromMinutes(1)),
                    WarmUp = false,
                    After = _ => afterThrows ? throw new IOException("The table specified does not exist.\nStatus: 404 (Not Found)") : Task.CompletedTask,
                },
                new Step("second", (_, _) =>
                {
                    Interlocked.Increment(ref SecondStepCalls);
                    return ValueTask.FromResult<string?>(null);
                })
                {
                    Bounds = new RunBounds(TimeSpan.FromMinutes(1), 1, TimeSpan.Zero, TimeSpan.FromMinutes(1)),
                    WarmUp = false,
                },
            ]);

        public Task<IReadOnlyList<string>> VerifyAsync(CancellationToken cancel) =>
            verifyThrows ? throw new TimeoutException("no answer") : Task.FromResult<IReadOnlyList<string>>([]);

        public ValueTask DisposeAsync()
        {
            if (reportAt is not null)
            {
                ReportWrittenBeforeStop = File.Exists(Path.Combine(reportAt, "report.json"));
            }
            return disposeThrows ? throw new ObjectDisposedException("client") : ValueTask.CompletedTask;
        }
    }

    private static readonly HarnessOptions OneRound = new(null, new RunBounds(TimeSpan.FromSeconds(1), null, TimeSpan.Zero, TimeSpan.FromSeconds(1)), 1, false, false, false, null);

    /// <summary>
    /// Hostile review, 2026-12-04: <c>import-export --device-storage Table --no-ceiling</c> counted its stored devices in
    /// the Batched layout's table, storage answered 404, and the exception ended the harness unhandled (SIGABRT, exit
    /// code 134) with no report. An error that ends a run now gives the report of the steps measured before it, with the
    /// error as a failure of the run (its first line; the rest of an Azure error is its request's headers).
    /// </summary>
    [Fact]
    public async Task An_error_after_a_step_ends_the_run_with_a_report_of_what_was_measured_and_the_error_as_a_failure()
    {
        var scenario = new ThrowingScenario(afterThrows: true, verifyThrows: false, disposeThrows: false);

        var report = await LoadRun.RunAsync("throwing", scenario, OneRound, "throwing", null, _ => { }, TestContext.Current.CancellationToken);

        var measured = Assert.Single(report.Results);
        Assert.Equal("first", measured.Step);
        Assert.Equal(1, measured.Ok);
        Assert.Equal(0, scenario.SecondStepCalls);
        var failure = Assert.Single(report.FailedChecks);
        Assert.Equal("the run ended early by an error (the steps after it did not run; its stack trace is on stderr): IOException: The table specified does not exist.", failure);
        Assert.Equal(1, report.Failures);
        Assert.False(report.Partial);
        Assert.Contains(failure, ReportWriter.ToMarkdown(report), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_error_in_the_scenarios_checks_is_a_failure_of_the_run_beside_every_step_it_measured()
    {
        var report = await LoadRun.RunAsync("throwing", new ThrowingScenario(afterThrows: false, verifyThrows: true, disposeThrows: false), OneRound, "throwing", null, _ => { }, TestContext.Current.CancellationToken);

        Assert.Equal(["first", "second"], report.Results.Select(r => r.Step));
        Assert.Equal("the run ended early by an error (the steps after it did not run; its stack trace is on stderr): TimeoutException: no answer", Assert.Single(report.FailedChecks));
    }

    /// <summary>The target's stop, after the steps, threw past the report: now it is a failed check, and the report is written.</summary>
    [Fact]
    public async Task A_target_that_fails_to_stop_is_a_failure_of_the_run_not_an_unhandled_exception()
    {
        Assert.Null(await Registry.LoadTests.Program.StopAsync("throwing", new ThrowingScenario(false, false, disposeThrows: false)));

        var failure = await Registry.LoadTests.Program.StopAsync("throwing", new ThrowingScenario(false, false, disposeThrows: true));

        Assert.NotNull(failure);
        Assert.StartsWith("stopping the target failed (its stack trace is on stderr): ObjectDisposedException: ", failure, StringComparison.Ordinal);
    }

    /// <summary>
    /// Hostile review, 2026-12-04: after a SIGTERM, heartbeat-mqtt took 16 s to stop its clients and registry before it
    /// wrote the report, and a second signal in them lost it. The report is written before the target is told to stop;
    /// a stop that then fails is added to it as a failure, written again.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task The_report_is_on_disk_before_the_target_is_stopped_and_a_failed_stop_is_added_to_it(bool stopFails)
    {
        var folder = Directory.CreateTempSubdirectory("report-before-stop-").FullName;
        try
        {
            var scenario = new ThrowingScenario(false, false, disposeThrows: stopFails, reportAt: folder);
            var report = await LoadRun.RunAsync("throwing", scenario, OneRound, "throwing", null, _ => { }, TestContext.Current.CancellationToken);

            var (written, _) = await Registry.LoadTests.Program.WriteThenStopAsync("throwing", report, folder, plots: false, scenario);

            Assert.True(scenario.ReportWrittenBeforeStop);
            var onDisk = await File.ReadAllTextAsync(Path.Combine(folder, "report.json"), TestContext.Current.CancellationToken);
            Assert.Equal(stopFails ? 1 : 0, written.Failures);
            Assert.Equal(stopFails, onDisk.Contains("stopping the target failed", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private sealed class StoppedWhilePreparing : IScenario
    {
        public LoadModel DefaultModel => LoadModel.Closed(1);

        public IReadOnlyList<string> Notes => [];

        public bool StepsBoundThemselves => true;

        public Task<IReadOnlyList<Step>> PrepareAsync(ScenarioContext context, CancellationToken cancel) => throw new OperationCanceledException(cancel);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>
    /// Hostile review, 2026-12-04: a soak stopped while its cluster started had made no steps, and its report's header gave
    /// the run's bounds ("each step 10 s, after a 2 s warm-up") instead of its own.
    /// </summary>
    [Fact]
    public async Task A_scenario_whose_steps_bound_themselves_says_so_also_when_stopped_before_it_made_them()
    {
        using var stopped = new CancellationTokenSource();
        await stopped.CancelAsync();

        var report = await LoadRun.RunAsync("soak", new StoppedWhilePreparing(), OneRound, "soak", null, _ => { }, stopped.Token);

        Assert.True(report.Partial);
        Assert.True(report.StepsBoundThemselves);
        Assert.Contains("each step bounded by the scenario", ReportWriter.ToMarkdown(report), StringComparison.Ordinal);
    }
}
