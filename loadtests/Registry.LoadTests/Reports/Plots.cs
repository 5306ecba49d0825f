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
        var plots = Build(report);
        if (plots is null)
        {
            return [];
        }
        var (throughput, latency) = plots.Value;
        var files = new[] { Path.Combine(folder, ThroughputFile), Path.Combine(folder, LatencyFile) };
        throughput.SavePng(files[0], Width, Height);
        latency.SavePng(files[1], Width, Height);
        return files;
    }

    internal const int Width = 1100;
    internal const int Height = 450;

    /// <summary>The two plots of <paramref name="report"/>'s first round, or null when no step of it has a timeline.</summary>
    internal static (Plot Throughput, Plot Latency)? Build(RunReport report)
    {
        var steps = report.Results.Where(r => r.Round == 1 && r.Timeline.Count > 0).ToList();
        if (steps.Count == 0)
        {
            return null;
        }
        var throughput = new Plot();
        var latency = new Plot();
        foreach (var step in steps)
        {
            // A last second the step ended early in holds only its part of a second's calls: drawn as a full second it read as
            // a drop in throughput at every step's end (a review, 2026-12-07). The CSV keeps it.
            var whole = WholeSeconds(step);
            var seconds = whole.Select(p => (double)p.Second).ToArray();
            var completed = throughput.Add.Scatter(seconds, whole.Select(p => (double)p.Ok * step.ItemsPerCall).ToArray());
            completed.LegendText = $"{step.Step} ok items/s";
            completed.MarkerSize = 0;
            if (step.Model.StartsWith("open", StringComparison.Ordinal))
            {
                var submitted = throughput.Add.Scatter(seconds, whole.Select(p => (double)p.Submitted * step.ItemsPerCall).ToArray());
                submitted.LegendText = $"{step.Step} submitted items/s";
                submitted.MarkerSize = 0;
                submitted.LinePattern = LinePattern.Dashed;
                submitted.Color = completed.Color;
            }
            // Only the seconds in which calls were answered: a second with none has no latency, not one of 0 ms. Each run of
            // answered seconds is its own line, so a stall is a gap, not a slope drawn across it (a review, 2026-12-07).
            ScottPlot.Color? color = null;
            var runs = AnsweredRuns(step.Timeline);
            foreach (var run in runs)
            {
                var runSeconds = run.Select(p => (double)p.Second).ToArray();
                var p50 = latency.Add.Scatter(runSeconds, run.Select(p => p.Latency.P50).ToArray());
                p50.MarkerSize = run.Count == 1 ? 5 : 0;
                if (color is { } same)
                {
                    p50.Color = same;
                }
                else
                {
                    p50.LegendText = $"{step.Step} p50";
                    color = p50.Color;
                }
                var p99 = latency.Add.Scatter(runSeconds, run.Select(p => p.Latency.P99).ToArray());
                p99.MarkerSize = run.Count == 1 ? 5 : 0;
                p99.LinePattern = LinePattern.Dashed;
                p99.Color = p50.Color;
                if (run == runs[0])
                {
                    p99.LegendText = $"{step.Step} p99";
                }
            }
        }
        throughput.Title($"{report.Scenario}: throughput per second of each step");
        throughput.XLabel("seconds into the step");
        throughput.YLabel("per second");
        // Beside the plot, not on it: inside, it covered the stretch where throughput fell to zero (a review, 2026-12-07).
        throughput.ShowLegend(Edge.Right);
        // From 0, as a reader takes a throughput axis to be: the limits set before any render were replaced by the render's
        // own autoscale (a drop from 1,000 to 900 a second filled the plot's height). Scaled to the data first, then pinned.
        throughput.Axes.AutoScale();
        var limits = throughput.Axes.GetLimits();
        throughput.Axes.SetLimits(0, limits.Right, 0, limits.Top * 1.05);
        latency.Title($"{report.Scenario}: latency per second of each step");
        latency.XLabel("seconds into the step");
        latency.YLabel("ms");
        latency.ShowLegend(Edge.Right);
        return (throughput, latency);
    }

    /// <summary>The runs of consecutive seconds in which calls were answered, each drawn as its own line.</summary>
    internal static IReadOnlyList<IReadOnlyList<TimelinePoint>> AnsweredRuns(IReadOnlyList<TimelinePoint> timeline)
    {
        var runs = new List<IReadOnlyList<TimelinePoint>>();
        List<TimelinePoint>? current = null;
        foreach (var point in timeline)
        {
            if (point.Latency.Count == 0)
            {
                current = null;
                continue;
            }
            if (current is null || current[^1].Second != point.Second - 1)
            {
                current = [];
                runs.Add(current);
            }
            current.Add(point);
        }
        return runs;
    }

    /// <summary>The step's seconds without a last one it ended before the end of (a part of a second's calls).</summary>
    internal static IReadOnlyList<TimelinePoint> WholeSeconds(StepResult step) =>
        step.Timeline.Count > 1 && step.Timeline[^1].Second + 1 > step.TotalSeconds + 0.05
            ? [.. step.Timeline.Take(step.Timeline.Count - 1)]
            : step.Timeline;
}
