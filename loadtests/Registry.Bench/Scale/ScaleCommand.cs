namespace Registry.Bench.Scale;

/// <summary>
/// The <c>scale</c> command line: runs the phase, prints the report and writes it beside <c>--out</c>
/// (default TestResults/bench/scale-MODE-TIME). Ctrl+C (or SIGTERM) ends the run cleanly with what it measured.
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
        // The registry and Azurite are stopped and what was measured is reported. The in-process host's own console
        // lifetime also hears the signal, and asks for the same thing.
        using var stop = new BenchStop("stopping the registry and Azurite, then reporting what was measured");
        var report = await ScaleBench.RunAsync(options, Console.Out, stop.Token);
        Console.WriteLine();
        Console.WriteLine(report.ToMarkdown());
        Write(options.Output!, report);
        Console.WriteLine($"written: {options.Output}.md, {options.Output}.steps.csv, {options.Output}.phases.csv");
        return report.Failures == 0 ? 0 : 1;
    }

    public static void Write(string prefix, ScaleReport report)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(prefix))!);
        File.WriteAllText(prefix + ".md", report.ToMarkdown());
        File.WriteAllText(prefix + ".steps.csv", report.StepsCsv());
        File.WriteAllText(prefix + ".phases.csv", report.PhasesCsv());
    }
}
