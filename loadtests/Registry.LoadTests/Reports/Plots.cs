using Registry.LoadTests.Harness;
using ScottPlot;

namespace Registry.LoadTests.Reports;

/// <summary>
/// Throughput and latency over time, one line per step (round 1 when there are several, so lines share a time axis):
/// an overloaded target shows as completions falling below submissions and latency climbing.
/// </summary>
internal static class Plots
{
    public const string ThroughputFile = "throughput.png";
    public const string LatencyFile = "latency.png";

    public static IReadOnlyList<string> Write(RunReport report, string folder)
    {
        var steps = report.Results.Where(r => r.Round == 1 && r.Timeline.Count > 0).ToList();
        if (steps.Count == 0)
        {
            return [];
        }
        var throughput = new Plot();
        var latency = new Plot();
        foreach (var step in steps)
        {
            var seconds = step.Timeline.Select(p => (double)p.Second).ToArray();
            var completed = throughput.Add.Scatter(seconds, step.Timeline.Select(p => (double)p.Ok * step.ItemsPerCall).ToArray());
            completed.LegendText = $"{step.Step} ok items/s";
            completed.MarkerSize = 0;
            if (step.Model.StartsWith("open", StringComparison.Ordinal))
            {
                var submitted = throughput.Add.Scatter(seconds, step.Timeline.Select(p => (double)p.Submitted * step.ItemsPerCall).ToArray());
                submitted.LegendText = $"{step.Step} submitted items/s";
                submitted.MarkerSize = 0;
                submitted.LinePattern = LinePattern.Dashed;
                submitted.Color = completed.Color;
            }
            // Only the seconds in which calls were answered: a second with none has no latency, not one of 0 ms.
            var answered = step.Timeline.Where(p => p.Latency.Count > 0).ToList();
            if (answered.Count > 0)
            {
                var answeredSeconds = answered.Select(p => (double)p.Second).ToArray();
                var p50 = latency.Add.Scatter(answeredSeconds, answered.Select(p => p.Latency.P50).ToArray());
                p50.LegendText = $"{step.Step} p50";
                p50.MarkerSize = answered.Count == 1 ? 5 : 0;
                var p99 = latency.Add.Scatter(answeredSeconds, answered.Select(p => p.Latency.P99).ToArray());
                p99.LegendText = $"{step.Step} p99";
                p99.MarkerSize = 0;
                p99.LinePattern = LinePattern.Dashed;
                p99.Color = p50.Color;
            }
        }
        throughput.Title($"{report.Scenario}: throughput per second of each step");
        throughput.XLabel("seconds into the step");
        throughput.YLabel("per second");
        throughput.ShowLegend(Alignment.LowerRight);
        throughput.Axes.Bottom.Min = 0;
        throughput.Axes.SetLimitsY(0, throughput.Axes.GetLimits().Top * 1.05);
        latency.Title($"{report.Scenario}: latency per second of each step");
        latency.XLabel("seconds into the step");
        latency.YLabel("ms");
        latency.ShowLegend(Alignment.UpperRight);
        var files = new[] { Path.Combine(folder, ThroughputFile), Path.Combine(folder, LatencyFile) };
        throughput.SavePng(files[0], 900, 450);
        latency.SavePng(files[1], 900, 450);
        return files;
    }
}
