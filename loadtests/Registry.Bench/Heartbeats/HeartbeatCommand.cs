namespace Registry.Bench.Heartbeats;

/// <summary>
/// The <c>heartbeat</c> command line: runs the rounds, prints the report and writes it beside <c>--out</c>
/// (default TestResults/bench/heartbeat-TIME). Ctrl+C or SIGTERM ends the run after the current phase (<see cref="BenchStop"/>).
/// </summary>
internal static class HeartbeatCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        var options = HeartbeatOptions.Parse(args);
        var output = options.Output ?? Path.Combine(BenchHost.RepositoryRoot(), "TestResults", "bench", $"heartbeat-{DateTime.UtcNow:yyyyMMdd-HHmmss}");
        using var stop = new BenchStop("ending after the phase under way, then reporting what was measured");
        var report = await HeartbeatBench.RunAsync(options, Console.Out, stop.Token);
        Console.WriteLine();
        Console.WriteLine(report.ToMarkdown());
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        File.WriteAllText(output + ".md", report.ToMarkdown());
        File.WriteAllText(output + ".csv", report.ToCsv());
        Console.WriteLine($"written: {output}.md, {output}.csv");
        return report.Errors == 0 ? 0 : 1;
    }
}
