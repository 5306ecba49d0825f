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
        IReadOnlyList<string> checks;
        try
        {
            checks = await RunStepsAsync(scenario, steps, model, options, results, observe, log, cancel);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancel.IsCancellationRequested)
        {
            // An error the scenario did not expect (storage answering 404 to a check, a client call throwing) ended the
            // run: it had ended the process with an unhandled exception (SIGABRT, exit code 134) and no report. Now the
            // steps measured so far are reported, the error counts as a failure of the run, and its whole text goes to
            // stderr for whoever reads the log.
            Console.Error.WriteLine($"{name}: the run ended early by an error: {e}");
            checks = [$"the run ended early by an error (the steps after it did not run; its stack trace is on stderr): {e.GetType().Name}: {FirstLine(e.Message)}"];
        }
        return new RunReport
        {
            Scenario = name,
            CommandLine = commandLine,
            Started = started,
            Ended = DateTimeOffset.UtcNow,
            Model = model.ToString(),
            Bounds = options.Bounds,
            StepsBoundThemselves = scenario.StepsBoundThemselves || (steps.Count > 0 && steps.All(s => s.Bounds is not null)),
            Rounds = options.Rounds,
            Environment = environment.Finish(),
            Notes = scenario.Notes,
            Results = results,
            FailedChecks = checks,
            Partial = cancel.IsCancellationRequested,
        };
    }

    /// <summary>A message's first line (an Azure error's message goes on with its request's headers and body).</summary>
    internal static string FirstLine(string message) => message.Split('\n', 2)[0].TrimEnd('\r');

    /// <summary>The rounds of <paramref name="steps"/> (each step's <see cref="Step.After"/> run whatever it did), then the scenario's checks.</summary>
    private static async Task<IReadOnlyList<string>> RunStepsAsync(IScenario scenario, IReadOnlyList<Step> steps, LoadModel model, HarnessOptions options,
        List<StepResult> results, Action<StepProgress>? observe, Action<string> log, CancellationToken cancel)
    {
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
                log(last.Latency.Count == 0
                    ? $"round {round} {last.Step}: {last.OkItemsPerSecond:N0} ok items/s, no call answered, {last.Failed} failed"
                    : $"round {round} {last.Step}: {last.OkItemsPerSecond:N0} ok items/s, p50 {last.Latency.P50:0.00} ms, p99 {last.Latency.P99:0.00} ms, {last.Failed} failed");
            }
        }
        return cancel.IsCancellationRequested ? [] : await scenario.VerifyAsync(cancel);
    }
}
