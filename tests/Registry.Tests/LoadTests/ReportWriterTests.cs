using System.Text.Json;
using Registry.LoadTests.Harness;
using Registry.LoadTests.Reports;

namespace Registry.Tests.LoadTests;

/// <summary>
/// The report a run leaves: it says what machine and what else ran on it, every step's figures and its ratio to its
/// ceiling, failures by kind, and whether Ctrl+C cut it short; CSV and JSON carry the same figures for tools.
/// </summary>
public sealed class ReportWriterTests
{
    [Fact]
    public void The_markdown_states_the_cores_the_load_average_and_what_shared_the_cores()
    {
        var markdown = ReportWriter.ToMarkdown(Report());

        Assert.Contains("- 2 cores;", markdown, StringComparison.Ordinal);
        Assert.Contains("load average (1/5/15 min) before 1.00 2.00 3.00, after 4.00 5.00 6.00", markdown, StringComparison.Ordinal);
        Assert.Contains("shared the cores during the run: csc (pid 7) 12.5 CPU s; dotnet Other.dll (pid 9) 3.0 CPU s", markdown, StringComparison.Ordinal);
        Assert.Contains("peak RSS 1,500 MB", markdown, StringComparison.Ordinal);
    }

    [Fact]
    public void The_markdown_gives_each_step_its_percentiles_and_its_ratio_to_its_ceiling()
    {
        var markdown = ReportWriter.ToMarkdown(Report());

        Assert.Contains("| heartbeat | 1,000 | 1,000 | 1,000 | 1.00 | 2.00 | 3.00 | 4.00 | 5.00 | 1,000 | 0 |", markdown, StringComparison.Ordinal);
        Assert.Contains("| noop (ceiling) | 2,000 |", markdown, StringComparison.Ordinal);
        Assert.Contains("**heartbeat ÷ noop = 0.50**", markdown, StringComparison.Ordinal);
        Assert.Contains("None.", markdown, StringComparison.Ordinal);
        Assert.DoesNotContain("partial", markdown, StringComparison.Ordinal);
    }

    /// <summary>
    /// The review's D8: a step of one import job (sent in microseconds, answered after 100 s) read "1,202 submitted calls/s,
    /// 0 completed calls/s". A step with fewer than 10 calls a round shows no call rate, says why, and keeps its items per
    /// second and its calls' times; a step of many calls in the same report keeps its rates.
    /// </summary>
    [Fact]
    public void A_step_of_too_few_calls_for_a_rate_shows_none_and_says_why_where_a_step_of_many_keeps_its_rates()
    {
        var import = Result("import", 1, 1) with { SubmitSeconds = 0.000832, TotalSeconds = 100, ItemsPerCall = 100_000, Latency = new LatencySummary(1, 100_000, 100_000, 100_000, 100_000, 100_000) };
        var report = Report() with { Rounds = 2, Results = [import, Result("heartbeat", 1000, 1), import with { Round = 2 }, Result("heartbeat", 1000, 2)] };

        var markdown = ReportWriter.ToMarkdown(report);

        Assert.Contains("| import | 1,000 | — | — | 100000.00 | 100000.00 | 100000.00 | 100000.00 | 100000.00 | 200,000 | 0 |", markdown, StringComparison.Ordinal);
        Assert.Contains("| heartbeat | 1,000 | 1,000 | 1,000 |", markdown, StringComparison.Ordinal);
        Assert.Contains("| 1 | import | closed:8 | 1,000 | — | — | 100000.00 | 100000.00 | 0 |", markdown, StringComparison.Ordinal);
        Assert.Contains("| 2 | heartbeat | closed:8 | 1,000 | 1,000 | 1,000 |", markdown, StringComparison.Ordinal);
        Assert.Contains("—: a call rate of a step that sent fewer than 10 calls in a round is not shown", markdown, StringComparison.Ordinal);
        Assert.DoesNotContain("1,202", markdown, StringComparison.Ordinal);
        // 200,000 ok items are both rounds' (100,000 each), beside rates that are medians: the header says which is which.
        Assert.Contains("| max ms, any round | ok items, all rounds | failed calls, all rounds |", markdown, StringComparison.Ordinal);
    }

    /// <summary>
    /// A hostile review (2026-12-02): the console's table had no "ok items, all rounds" column and named the call rates
    /// "submitted/s" and "completed/s" where report.md says "calls/s".
    /// </summary>
    [Fact]
    public void The_console_summary_has_the_columns_and_counts_of_the_markdown_table()
    {
        var report = Report();
        var output = new StringWriter();
        var console = Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings
        {
            Out = new Spectre.Console.AnsiConsoleOutput(output),
            Ansi = Spectre.Console.AnsiSupport.No,
            ColorSystem = Spectre.Console.ColorSystemSupport.NoColors,
        });
        console.Profile.Width = 400;

        console.Write(Registry.LoadTests.Program.SummaryTable(report));

        var text = output.ToString();
        Assert.All(["submitted calls/s", "completed calls/s", "max ms, any round", "ok items, all rounds", "failed calls, all rounds"],
            column => Assert.Contains(column, text, StringComparison.Ordinal));
        Assert.Contains(report.Summaries()[0].OkItems.ToString("N0", System.Globalization.CultureInfo.InvariantCulture), text, StringComparison.Ordinal);
    }

    [Fact]
    public void A_report_whose_steps_all_sent_enough_calls_has_no_note_on_missing_rates()
    {
        Assert.DoesNotContain("is not shown", ReportWriter.ToMarkdown(Report()), StringComparison.Ordinal);
    }

    [Fact]
    public void A_step_stopped_before_it_ran_has_no_ratio_to_its_ceiling_rather_than_NaN()
    {
        var report = Report() with { Partial = true, Results = [Result("noop", 2000, 1, ceilingOf: "heartbeat")] };

        Assert.Empty(report.Ratios());
        Assert.DoesNotContain("NaN", ReportWriter.ToMarkdown(report), StringComparison.Ordinal);
    }

    [Fact]
    public void Failures_and_a_Ctrl_C_are_in_the_report()
    {
        var report = Report() with
        {
            Partial = true,
            Results = [Result("heartbeat", 1000, 1) with { Failures = new Dictionary<string, long> { ["NotRegistered"] = 3 } }],
            FailedChecks = ["2 alerts missed"],
        };

        var markdown = ReportWriter.ToMarkdown(report);

        Assert.StartsWith("# heartbeat-grain (partial: stopped by Ctrl+C or SIGTERM)", markdown, StringComparison.Ordinal);
        Assert.Contains("- heartbeat (round 1): 3 × NotRegistered", markdown, StringComparison.Ordinal);
        Assert.Contains("- check failed: 2 alerts missed", markdown, StringComparison.Ordinal);
        Assert.Equal(4, report.Failures);
    }

    [Fact]
    public void The_csv_has_one_row_per_step_round_and_second()
    {
        var lines = ReportWriter.ToCsv(Report()).TrimEnd().Split('\n');

        Assert.Equal("round,step,second,submitted,completed,failed,abandoned,p50_ms,p75_ms,p95_ms,p99_ms,max_ms", lines[0]);
        Assert.Equal(["1,noop,0,2000,2000,0,0,1,2,3,4,5", "1,heartbeat,0,1000,1000,0,0,1,2,3,4,5"], lines[1..]);
    }

    [Fact]
    public void The_json_carries_the_summary_the_ratio_the_machine_and_the_failures()
    {
        var report = Report() with { Results = [Result("noop", 2000, 1, ceilingOf: "heartbeat"), Result("heartbeat", 1000, 1) with { Failures = new Dictionary<string, long> { ["412"] = 2 } }] };

        using var json = JsonDocument.Parse(ReportWriter.ToJson(report));

        var root = json.RootElement;
        Assert.Equal("heartbeat-grain", root.GetProperty("scenario").GetString());
        Assert.Equal(2, root.GetProperty("failures").GetInt64());
        Assert.Equal(2, root.GetProperty("environment").GetProperty("cores").GetInt32());
        Assert.Equal(0.5, root.GetProperty("ratios")[0].GetProperty("median").GetDouble(), 6);
        Assert.Equal(2, root.GetProperty("steps")[1].GetProperty("failures").GetProperty("412").GetInt64());
    }

    [Fact]
    public void Writing_a_report_leaves_markdown_csv_json_and_two_png_plots_in_its_folder()
    {
        var folder = Directory.CreateTempSubdirectory("loadtests-report-").FullName;
        try
        {
            var files = ReportWriter.Write(Report(), folder, plots: true);

            Assert.Equal(
                new[] { "latency.png", "report.json", "report.md", "throughput.png", "timeline.csv" },
                files.Select(Path.GetFileName).Order(StringComparer.Ordinal));
            foreach (var png in files.Where(f => f.EndsWith(".png", StringComparison.Ordinal)))
            {
                Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(png)[..4]);
            }
            Assert.Contains("![throughput](throughput.png)", File.ReadAllText(Path.Combine(folder, "report.md")), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// Hostile review, 2026-12-04: an import job that timed out (no call answered) and an empty soak phase showed
    /// "0.00" in every latency column, read as a latency of nothing. A step none of whose calls was answered shows "—".
    /// </summary>
    [Fact]
    public void A_step_none_of_whose_calls_was_answered_shows_no_latency_not_zero_milliseconds()
    {
        var unanswered = Result("import", 1, 1) with
        {
            Completed = 0,
            Ok = 0,
            Failures = new Dictionary<string, long> { ["no answer before the drain ended"] = 1 },
            Latency = new LatencySummary(0, 0, 0, 0, 0, 0),
        };
        var report = Report() with { Results = [Result("heartbeat", 1000, 1), unanswered] };

        var cells = ReportWriter.SummaryCells(report.Summaries().Single(s => s.Step == "import"));
        var answered = ReportWriter.SummaryCells(report.Summaries().Single(s => s.Step == "heartbeat"));

        Assert.Equal(["—", "—", "—", "—", "—"], cells[4..9]);
        Assert.Equal(["1.00", "2.00", "3.00", "4.00", "5.00"], answered[4..9]);
    }

    /// <summary>
    /// Hostile review, 2026-12-04: a run stopped in the step's warm-up printed "heartbeat ÷ noop-grain = 0.00" in bold,
    /// and a round stopped half-way weighed in the median. A round where either side was cut short, or sent nothing, has
    /// no ratio; such a round is marked partial in the Rounds table.
    /// </summary>
    [Fact]
    public void A_round_cut_short_or_that_sent_nothing_gives_no_ratio_and_is_marked_partial()
    {
        var report = Report() with
        {
            Rounds = 3,
            Results =
            [
                Result("noop", 2000, 1, ceilingOf: "heartbeat"), Result("heartbeat", 1000, 1),
                Result("noop", 2000, 2, ceilingOf: "heartbeat"), Result("heartbeat", 500, 2) with { Partial = true },
                Result("noop", 2000, 3, ceilingOf: "heartbeat"), Result("heartbeat", 0, 3) with { Latency = new LatencySummary(0, 0, 0, 0, 0, 0) },
            ],
        };

        var ratio = Assert.Single(report.Ratios());
        Assert.Equal([0.5], ratio.Rounds);
        Assert.Contains("| 2 (partial) | heartbeat |", ReportWriter.ToMarkdown(report), StringComparison.Ordinal);
    }

    [Fact]
    public void A_run_whose_steps_were_never_made_reports_no_ratio_at_all()
    {
        var report = Report() with { Results = [Result("noop", 2000, 1, ceilingOf: "heartbeat"), Result("heartbeat", 0, 1) with { Partial = true }] };

        Assert.Empty(report.Ratios());
        Assert.DoesNotContain("÷", ReportWriter.ToMarkdown(report), StringComparison.Ordinal);
    }

    /// <summary>A batch step keeps fewer calls in flight than the run's closed:N (each carries many items): report.md names it.</summary>
    [Fact]
    public void A_step_that_ran_under_its_own_model_names_it_in_the_steps_list()
    {
        var report = Report() with
        {
            Results = [Result("heartbeat", 1000, 1) with { Description = "single" }, Result("heartbeat-batch", 10, 1) with { Description = "batched", Model = "closed:11" }],
        };

        var markdown = ReportWriter.ToMarkdown(report);

        Assert.Contains("- `heartbeat-batch`: batched; load model closed:11", markdown, StringComparison.Ordinal);
        Assert.Contains("- `heartbeat`: single\n", markdown.ReplaceLineEndings("\n"), StringComparison.Ordinal);
    }

    private static RunReport Report() => new()
    {
        Scenario = "heartbeat-grain",
        CommandLine = "Registry.LoadTests heartbeat-grain --devices 10",
        Started = new DateTimeOffset(2026, 11, 30, 8, 0, 0, TimeSpan.Zero),
        Ended = new DateTimeOffset(2026, 11, 30, 8, 1, 0, TimeSpan.Zero),
        Model = "closed:8",
        Bounds = RunBounds.Default,
        Rounds = 1,
        Environment = new RunEnvironment(2, "Linux", ".NET 10", true, "1.00 2.00 3.00", "4.00 5.00 6.00", 30, 60, 1_500_000_000,
            [new CoTenant(7, "csc", 12.5), new CoTenant(9, "dotnet Other.dll", 3)]),
        Notes = ["target: a registry in this process"],
        Results = [Result("noop", 2000, 1, ceilingOf: "heartbeat"), Result("heartbeat", 1000, 1)],
    };

    private static StepResult Result(string step, long calls, int round, string? ceilingOf = null) => new()
    {
        Step = step,
        Round = round,
        Model = "closed:8",
        CeilingOf = ceilingOf,
        SubmitSeconds = 1,
        TotalSeconds = 1,
        Submitted = calls,
        Completed = calls,
        Ok = calls,
        Failures = new Dictionary<string, long>(),
        Latency = new LatencySummary(calls, 1, 2, 3, 4, 5),
        Timeline = [new TimelinePoint(0, calls, calls, 0, new LatencySummary(calls, 1, 2, 3, 4, 5))],
    };

    /// <summary>A second run into the same --out folder with --no-plots left the first run's plots beside its report.</summary>
    [Fact]
    public void A_report_written_into_a_used_folder_leaves_none_of_the_earlier_runs_files_and_keeps_the_users()
    {
        var folder = Directory.CreateTempSubdirectory("report-reuse-").FullName;
        try
        {
            foreach (var name in new[] { "throughput.png", "latency.png", "mine.txt" })
            {
                File.WriteAllText(Path.Combine(folder, name), "earlier");
            }

            var files = ReportWriter.Write(Report(), folder, plots: false);

            Assert.Equal(["mine.txt", "report.json", "report.md", "timeline.csv"], Directory.GetFiles(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal));
            Assert.Equal(3, files.Count);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
