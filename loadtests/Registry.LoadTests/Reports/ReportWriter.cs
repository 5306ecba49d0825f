using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Registry.LoadTests.Harness;

namespace Registry.LoadTests.Reports;

/// <summary>
/// Renders a run as Markdown (for people and the README), CSV (one row per step per second, for spreadsheets) and
/// JSON (everything, for tools), and writes them with the plots into one folder.
/// </summary>
internal static class ReportWriter
{
    public const string MarkdownFile = "report.md";
    public const string CsvFile = "timeline.csv";
    public const string JsonFile = "report.json";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>Writes the report files (and the plots unless <paramref name="plots"/> is false); answers the files written.</summary>
    public static IReadOnlyList<string> Write(RunReport report, string folder, bool plots)
    {
        Directory.CreateDirectory(folder);
        // A folder used before keeps no file of the earlier run beside this one's (its plots under --no-plots were read
        // as this run's). Other files in it are the user's and stay.
        foreach (var name in new[] { MarkdownFile, CsvFile, JsonFile, Plots.ThroughputFile, Plots.LatencyFile })
        {
            File.Delete(Path.Combine(folder, name));
        }
        var files = new List<string>();
        void Save(string name, string text)
        {
            var path = Path.Combine(folder, name);
            File.WriteAllText(path, text);
            files.Add(path);
        }
        var plotFiles = plots ? Plots.Write(report, folder) : [];
        Save(MarkdownFile, ToMarkdown(report, plotFiles.Select(Path.GetFileName).ToList()!));
        Save(CsvFile, ToCsv(report));
        Save(JsonFile, ToJson(report));
        files.AddRange(plotFiles);
        return files;
    }

    public static string ToMarkdown(RunReport report, IReadOnlyList<string>? plots = null)
    {
        var text = new StringBuilder();
        void Line(FormattableString line) => text.AppendLine(line.ToString(CultureInfo.InvariantCulture));
        var env = report.Environment;
        Line($"# {report.Scenario}{(report.Partial ? " (partial: stopped by Ctrl+C or SIGTERM)" : "")}");
        text.AppendLine();
        Line($"`{report.CommandLine}`");
        text.AppendLine();
        Line($"{report.Started:yyyy-MM-dd HH:mm:ss} – {report.Ended:HH:mm:ss} UTC. Load model {report.Model}; {StepBounds(report)}; {report.Rounds} round{(report.Rounds > 1 ? "s" : "")} (medians over rounds below).");
        text.AppendLine();
        text.AppendLine("## Machine");
        text.AppendLine();
        Line($"- {env.Cores} cores; {env.Os}; {env.Runtime}; {(env.ServerGc ? "server" : "workstation")} GC");
        Line($"- load average (1/5/15 min) before {env.LoadBefore}, after {env.LoadAfter}");
        Line($"- this process: {env.ProcessCpuSeconds:0.0} CPU s in {env.WallSeconds:0.0} s ({env.ProcessCpuSeconds / Math.Max(env.WallSeconds, 1e-9) / env.Cores:P0} of the machine), peak RSS {env.PeakRssBytes / 1e6:N0} MB");
        Line($"- shared the cores during the run: {(env.CoTenants.Count == 0 ? "nothing that took ≥ 0.5 CPU s" : string.Join("; ", env.CoTenants.Select(c => string.Create(CultureInfo.InvariantCulture, $"{c.Command} (pid {c.Pid}) {c.CpuSeconds:0.0} CPU s"))))}");
        foreach (var note in report.Notes)
        {
            Line($"- {note}");
        }
        text.AppendLine();
        text.AppendLine("## Results");
        text.AppendLine();
        text.AppendLine($"| {string.Join(" | ", SummaryColumns)} |");
        text.AppendLine($"| --- |{string.Concat(Enumerable.Repeat(" ---: |", SummaryColumns.Length - 1))}");
        foreach (var s in report.Summaries())
        {
            text.AppendLine($"| {string.Join(" | ", SummaryCells(s))} |");
        }
        if (report.Summaries().Any(s => s.TooFewCallsForARate))
        {
            text.AppendLine();
            Line($"{StepSummary.NoRateNote}.");
        }
        var ratios = report.Ratios();
        if (ratios.Count > 0)
        {
            text.AppendLine();
            foreach (var r in ratios)
            {
                Line($"- **{r.Step} ÷ {r.Ceiling} = {r.Median:0.00}** (ok items/s{(r.Rounds.Count > 1 ? ", rounds " + string.Join(", ", r.Rounds.Select(x => x.ToString("0.00", CultureInfo.InvariantCulture))) : "")})");
            }
        }
        var behind = report.Results.Where(r => r.GeneratorBehind).ToList();
        if (behind.Count > 0)
        {
            text.AppendLine();
            foreach (var r in behind)
            {
                if (r.UnsentCalls > 0)
                {
                    Line($"- **the load generator fell behind** in {r.Step} (round {r.Round}): it sent {r.Submitted:N0} of the {r.Submitted + r.UnsentCalls:N0} calls its schedule held before the step's end ({r.UnsentCalls:N0} never sent), so its submitted calls/s is what this harness could send, not the model's rate");
                }
                else
                {
                    Line($"- **the load generator fell behind** in {r.Step} (round {r.Round}): its sends ended at {r.SubmitSeconds:0.00} s of a {r.ScheduledSeconds:0.00} s schedule, so its submitted calls/s is what this harness could send, not the model's rate");
                }
            }
        }
        var failures = report.Results.SelectMany(r => r.Failures.Select(f => (r.Step, r.Round, f.Key, f.Value))).ToList();
        text.AppendLine();
        text.AppendLine("## Failures");
        text.AppendLine();
        if (failures.Count == 0 && report.FailedChecks.Count == 0)
        {
            text.AppendLine("None.");
        }
        foreach (var (step, round, kind, count) in failures)
        {
            Line($"- {step} (round {round}): {count:N0} × {kind}");
        }
        foreach (var check in report.FailedChecks)
        {
            Line($"- check failed: {check}");
        }
        if (report.Rounds > 1)
        {
            text.AppendLine();
            text.AppendLine("## Rounds");
            text.AppendLine();
            text.AppendLine("| round | step | model | ok items/s | submitted calls/s | completed calls/s | p50 ms | p99 ms | failed |");
            text.AppendLine("| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
            foreach (var r in report.Results)
            {
                string Rate(double perSecond) => r.Submitted < StepSummary.CallsForARate ? StepSummary.NoRate : perSecond.ToString("N0", CultureInfo.InvariantCulture);
                Line($"| {r.Round}{(r.Partial ? " (partial)" : "")} | {r.Step} | {r.Model} | {r.OkItemsPerSecond:N0} | {Rate(r.SubmittedPerSecond)} | {Rate(r.CompletedPerSecond)} | {r.Latency.P50:0.00} | {r.Latency.P99:0.00} | {r.Failed:N0} |");
            }
        }
        var described = report.Results.Where(r => r.Description is not null).DistinctBy(r => r.Step).ToList();
        if (described.Count > 0)
        {
            text.AppendLine();
            text.AppendLine("## Steps");
            text.AppendLine();
            foreach (var r in described)
            {
                // A step with its own model (a batch step's calls in flight, a connect storm's) names it: the header gives the run's.
                var ranAs = report.Results.Where(x => x.Step == r.Step).Select(x => x.Model).Distinct().Where(m => m != report.Model).ToList();
                Line($"- `{r.Step}`: {r.Description}{(r.ItemsPerCall > 1 ? $" ({r.ItemsPerCall} items a call)" : "")}{(ranAs.Count > 0 ? $"; load model {string.Join(", ", ranAs)}" : "")}");
            }
        }
        if (plots is { Count: > 0 })
        {
            text.AppendLine();
            text.AppendLine("## Over time");
            text.AppendLine();
            foreach (var plot in plots)
            {
                Line($"![{Path.GetFileNameWithoutExtension(plot)}]({plot})");
            }
        }
        text.AppendLine();
        text.AppendLine("Latency is from the intended send time in the open model (a stalled target cannot hide its stall), from the send in the closed model. Warm-up is not counted.");
        return text.ToString();
    }

    /// <summary>
    /// One row per step, round and second of the measured time, adding up to the step's submitted, completed and failed:
    /// the calls abandoned at the drain's end are failed (and in <c>abandoned</c>) in the row of that second, not completed.
    /// </summary>
    public static string ToCsv(RunReport report)
    {
        var text = new StringBuilder("round,step,second,submitted,completed,failed,abandoned,p50_ms,p75_ms,p95_ms,p99_ms,max_ms\n");
        foreach (var r in report.Results)
        {
            foreach (var p in r.Timeline)
            {
                // A second in which no call was answered has no latency: its cells are empty, not 0 (a stalled target read
                // as answering in 0 ms).
                var latency = p.Latency.Count == 0 ? ",,,,"
                    : string.Create(CultureInfo.InvariantCulture, $"{p.Latency.P50:0.###},{p.Latency.P75:0.###},{p.Latency.P95:0.###},{p.Latency.P99:0.###},{p.Latency.Max:0.###}");
                text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                    $"{r.Round},{r.Step},{p.Second},{p.Submitted},{p.Completed},{p.Failed},{p.Abandoned},") + latency);
            }
        }
        return text.ToString();
    }

    /// <summary>
    /// The results table's columns, in report.md and on the console alike: rates and percentiles are medians over rounds;
    /// the last three columns are not, and say so.
    /// </summary>
    internal static readonly string[] SummaryColumns =
        ["step", "ok items/s", "submitted calls/s", "completed calls/s", "p50 ms", "p75 ms", "p95 ms", "p99 ms", "max ms, any round", "ok items, all rounds", "failed calls, all rounds"];

    /// <summary>One step's row of the results table, under <see cref="SummaryColumns"/>.</summary>
    internal static string[] SummaryCells(StepSummary s)
    {
        static string F(double x, string format) => x.ToString(format, CultureInfo.InvariantCulture);
        string L(double ms) => s.NoLatency ? StepSummary.NoRate : F(ms, "0.00");
        return
        [
            s.Step + (s.CeilingOf is null ? "" : " (ceiling)"), F(s.OkItemsPerSecond, "N0"), s.CallRate(s.SubmittedPerSecond), s.CallRate(s.CompletedPerSecond),
            L(s.P50), L(s.P75), L(s.P95), L(s.P99), L(s.Max), F(s.OkItems, "N0"), F(s.Failed, "N0"),
        ];
    }

    public static string ToJson(RunReport report) => JsonSerializer.Serialize(new
    {
        report.Scenario,
        report.CommandLine,
        report.Started,
        report.Ended,
        report.Model,
        // The run's bounds, or none when every step brings its own (an import-export step is one job run to its end).
        Bounds = report.StepsBoundThemselves
            ? null
            : new { DurationSeconds = report.Bounds.Duration.TotalSeconds, report.Bounds.Count, WarmUpSeconds = report.Bounds.WarmUp.TotalSeconds, DrainSeconds = report.Bounds.Drain.TotalSeconds },
        report.StepsBoundThemselves,
        report.Rounds,
        report.Partial,
        report.Failures,
        report.Environment,
        report.Notes,
        Summary = report.Summaries(),
        Ratios = report.Ratios(),
        report.FailedChecks,
        Steps = report.Results.Select(r => new
        {
            r.Step,
            r.Round,
            r.Model,
            r.ItemsPerCall,
            r.CeilingOf,
            r.Description,
            r.SubmitSeconds,
            r.TotalSeconds,
            r.Submitted,
            r.UnsentCalls,
            r.GeneratorBehind,
            r.Completed,
            r.Ok,
            r.Failed,
            r.SubmittedPerSecond,
            r.CompletedPerSecond,
            r.OkItemsPerSecond,
            r.Failures,
            r.Latency,
            r.Partial,
        }),
    }, Json);

    /// <summary>The steps' bounds: the run's, or, when every step brings its own, a pointer to the steps that say them.</summary>
    internal static string StepBounds(RunReport report) => report.StepsBoundThemselves
        ? "each step bounded by the scenario, with no warm-up (see Steps)"
        : "each step " + Bounds(report.Bounds);

    private static string Bounds(RunBounds b) => string.Create(CultureInfo.InvariantCulture,
        $"{(b.Count is { } c ? $"{c:N0} items or " : "")}{b.Duration.TotalSeconds:0.#} s, after a {b.WarmUp.TotalSeconds:0.#} s warm-up (discarded)");
}
