using Registry.LoadTests.Scenarios;

namespace Registry.LoadTests.Harness;

/// <summary>
/// Runs a scenario: prepares it, runs its steps round after round (each ceiling beside the step it bounds, so their
/// ratio is of one moment on a shared machine), runs its checks, and gathers the report. Ctrl+C (the token) ends the
/// step in progress with what it measured and skips the rest: the report is then marked partial.
/// </summary>
internal static class LoadRun
{
    public static async Task<RunReport> RunAsync(string name, IScenario scenario, HarnessOptions options, string commandLine,
        Action<StepProgress>? observe, Action<string> log, CancellationToken cancel)
    {
        var started = DateTimeOffset.UtcNow;
        using var environment = RunEnvironment.Begin();
        var model = options.Model ?? scenario.DefaultModel;
        log($"{name}: preparing the target");
        IReadOnlyList<Step> steps;
        try
        {
            steps = await scenario.PrepareAsync(new ScenarioContext(options, log), cancel);
        }
        catch (OperationCanceledException e) when (cancel.IsCancellationRequested)
        {
            // Stopped while starting its target or filling devices: a partial report of nothing measured, not a crash.
            log($"{name}: stopped while preparing ({e.Message}): nothing measured, the report is partial");
            steps = [];
        }
        var results = new List<StepResult>();
        for (var round = 1; round <= options.Rounds && !cancel.IsCancellationRequested; round++)
        {
            foreach (var step in steps)
            {
                if (cancel.IsCancellationRequested)
                {
                    break;
                }
                try
                {
                    results.Add(await StepRunner.RunAsync(step, model, options.BoundsOf(step), round, observe, cancel));
                }
                finally
                {
                    if (step.After is { } after)
                    {
                        await after(CancellationToken.None);
                    }
                }
                var last = results[^1];
                log($"round {round} {last.Step}: {last.OkItemsPerSecond:N0} ok items/s, p50 {last.Latency.P50:0.00} ms, p99 {last.Latency.P99:0.00} ms, {last.Failed} failed");
            }
        }
        var checks = cancel.IsCancellationRequested ? [] : await scenario.VerifyAsync(cancel);
        return new RunReport
        {
            Scenario = name,
            CommandLine = commandLine,
            Started = started,
            Ended = DateTimeOffset.UtcNow,
            Model = model.ToString(),
            Bounds = options.Bounds,
            StepsBoundThemselves = steps.Count > 0 && steps.All(s => s.Bounds is not null),
            Rounds = options.Rounds,
            Environment = environment.Finish(),
            Notes = scenario.Notes,
            Results = results,
            FailedChecks = checks,
            Partial = cancel.IsCancellationRequested,
        };
    }
}
