namespace Registry.Bench.Scale;

/// <summary>
/// The <c>scale</c> command line: runs the phase, prints the report and writes it beside <c>--out</c>
/// (default TestResults/bench/scale-MODE-TIME). The first Ctrl+C ends the run cleanly with what it measured.
/// </summary>
internal static class ScaleCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        var options = ScaleOptions.Parse(args);
        options = options with
        {
            Output = options.Output ?? Path.Combine(BenchHost.RepositoryRoot(), "TestResults", "bench",
                $"scale-{options.Mode.ToString().ToLowerInvariant()}-{DateTime.UtcNow:yyyyMMdd-HHmmss}"),
        };
        using var abort = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true; // a second Ctrl+C after this one ends the process the usual way
            abort.Cancel();
            Console.Error.WriteLine("Interrupted: stopping the registry and Azurite, then reporting what was measured.");
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            var report = await ScaleBench.RunAsync(options, Console.Out, abort.Token);
            var markdown = report.ToMarkdown();
            Console.WriteLine();
            Console.WriteLine(markdown);
            Write(options.Output!, report);
            Console.WriteLine($"written: {options.Output}.md, {options.Output}.steps.csv, {options.Output}.phases.csv");
            return report.Failures == 0 ? 0 : 1;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    public static void Write(string prefix, ScaleReport report)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(prefix))!);
        File.WriteAllText(prefix + ".md", report.ToMarkdown());
        File.WriteAllText(prefix + ".steps.csv", report.StepsCsv());
        File.WriteAllText(prefix + ".phases.csv", report.PhasesCsv());
    }
}
