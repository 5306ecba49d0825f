namespace Registry.Bench.Mqtt;

/// <summary>The <c>mqtt</c> command line: runs the rounds, prints the report and writes it beside <c>--out</c>.</summary>
internal static class MqttCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        var options = MqttBenchOptions.Parse(args);
        var output = options.Output ?? Path.Combine(BenchHost.RepositoryRoot(), "TestResults", "bench", $"mqtt-{DateTime.UtcNow:yyyyMMdd-HHmmss}");
        using var stop = new BenchStop("ending after the phase under way, then reporting what was measured");
        var report = await MqttBench.RunAsync(options, Console.Out, stop.Token);
        Console.WriteLine();
        Console.WriteLine(report.ToMarkdown());
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        File.WriteAllText(output + ".md", report.ToMarkdown());
        Console.WriteLine($"written: {output}.md");
        return report.Failures == 0 ? 0 : 1;
    }
}
