using System.Globalization;
using System.Runtime.InteropServices;
using Registry.LoadTests.Harness;
using Registry.LoadTests.Reports;
using Registry.LoadTests.Scenarios;
using Spectre.Console;

namespace Registry.LoadTests;

/// <summary>
/// The load harness: <c>Registry.LoadTests SCENARIO [options]</c> runs one scenario, shows its progress and writes a
/// report folder (Markdown, CSV, JSON, plots). <c>list</c> names the scenarios; loadtests/README.md says how to run each.
/// </summary>
internal static class Program
{
    /// <summary>The exit code of a run stopped by Ctrl+C or SIGTERM (its report is marked partial).</summary>
    public const int Interrupted = 130;

    public static async Task<int> Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "list" or "--help" or "-h")
        {
            if (args.Length > 1)
            {
                // `list --devices 5` listed the scenarios as if the option were not there.
                Console.Error.WriteLine($"{args[0]} takes no options: {string.Join(' ', args[1..])}");
                return 2;
            }
            Usage();
            return args.Length == 0 ? 2 : 0;
        }
        if (args[0] == BrokersProcess.Command)
        {
            return await BrokersProcess.ServeAsync(args[1..]); // heartbeat-mqtt's child process, not a scenario
        }
        var entry = Catalog.All.FirstOrDefault(s => s.Name == args[0]);
        if (entry is null)
        {
            Console.Error.WriteLine($"No scenario '{args[0]}'.");
            Usage();
            return 2;
        }
        HarnessOptions options;
        IScenario scenario;
        try
        {
            var arguments = new Arguments(args[1..]);
            options = HarnessOptions.Read(arguments);
            scenario = entry.Create(arguments);
            arguments.EnsureAllRead(entry.Name, (option, value) => Catalog.ScenariosTaking(option, value, except: entry.Name));
            // The folder is made now: a run of hours must not end by finding it cannot write its report.
            if (options.Output is { } output)
            {
                try
                {
                    Directory.CreateDirectory(output);
                }
                catch (Exception e) when (e is ArgumentException or IOException or UnauthorizedAccessException)
                {
                    // The bare .NET text ("The file '…' already exists.") did not say which option it was about.
                    throw new ArgumentException($"--out '{output}': cannot make this folder ({e.Message})", e);
                }
            }
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine(e.Message);
            return 2;
        }

        using var interrupt = new CancellationTokenSource();
        // The first Ctrl+C or SIGTERM (kill, timeout, a CI job's cancel) ends the run with a partial report; a second
        // one ends the process as usual.
        void Interrupt(PosixSignalContext signal)
        {
            if (!interrupt.IsCancellationRequested)
            {
                signal.Cancel = true;
                Console.Error.WriteLine($"Stopping ({signal.Signal}): the step in progress ends now and the report covers what was measured. Again to abort.");
                try
                {
                    interrupt.Cancel();
                }
                catch (ObjectDisposedException)
                {
                    // The signal came as the run ended and its token source was disposed: there is nothing left to stop,
                    // and a throw here would end the process with 134 in place of the run's own exit code.
                }
            }
            else
            {
                // The abort: the signal's default action ends this process without its cleanup, so the registry processes
                // a round started are ended here, or they would outlive the run. Said first, so a signal the run took too
                // late to abort (its stop already done) is told apart from one that did not abort it.
                Console.Error.WriteLine($"Aborting ({signal.Signal}): no report is written.");
                Registry.Bench.Jobs.RegistryProcess.KillAll();
            }
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Interrupt);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Interrupt);
        if (Console.IsOutputRedirected)
        {
            // Spectre assumes 80 columns when it cannot ask the terminal: the summary table would wrap into unreadable cells.
            AnsiConsole.Profile.Width = 200;
        }
        var display = new ProgressDisplay(options.Live);
        var commandLine = "Registry.LoadTests " + string.Join(' ', args.Select(a => a.Contains(' ') ? $"\"{a}\"" : a));
        RunReport report;
        try
        {
            report = await display.RunAsync(() => LoadRun.RunAsync(entry.Name, scenario, options, commandLine, display.Observe, display.Log, interrupt.Token));
        }
        catch (InvalidOperationException e)
        {
            // A target that cannot start or be reached: said in a line, not a stack trace (a cause the message does not
            // already say stays on stderr; an unreachable gateway has none).
            Console.Error.WriteLine($"{entry.Name} could not run: {e.Message}");
            if (e.InnerException is { } cause)
            {
                Console.Error.WriteLine(cause);
            }
            await StopAsync(entry.Name, scenario);
            return 1;
        }
        catch (Exception e) when (e is not OperationCanceledException || !interrupt.IsCancellationRequested)
        {
            // Anything else while preparing: an unhandled exception ended the process with SIGABRT (exit code 134).
            Console.Error.WriteLine($"{entry.Name} could not run: {e}");
            await StopAsync(entry.Name, scenario);
            return 1;
        }
        var folder = options.Output ?? Path.Combine(Bench.BenchHost.RepositoryRoot(), "TestResults", "loadtests",
            $"{entry.Name}-{report.Started.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}");
        IReadOnlyList<string> files;
        try
        {
            (report, files) = await WriteThenStopAsync(entry.Name, report, folder, options.Plots, scenario);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The folder was made at the start, but a name in it may be taken or the disk full by the end: the run's
            // figures go to stdout instead of being lost with an unhandled exception (exit code 134; a hostile review,
            // 2026-12-04: a folder named report.md in --out).
            Console.Error.WriteLine($"{entry.Name}: could not write the report into {folder} ({e.Message}); it follows on stdout.");
            Console.WriteLine(ReportWriter.ToMarkdown(report));
            await StopAsync(entry.Name, scenario);
            return 1;
        }
        Summary(report);
        Console.WriteLine($"report: {Path.Combine(folder, ReportWriter.MarkdownFile)} ({string.Join(", ", files.Select(Path.GetFileName))})");
        // A run stopped early is not a clean run, whatever it measured until then: 130, as a shell reports an interrupt.
        return report.Partial ? Interrupted : report.Failures == 0 ? 0 : 1;
    }

    /// <summary>
    /// Writes the report, then stops the target. Written first: stopping 10,000 MQTT clients and a registry takes seconds,
    /// and a second Ctrl+C (or a CI runner's SIGKILL after its grace period) in them lost the whole report (a hostile
    /// review, 2026-12-04: 16 s between a SIGTERM and the report). A target that fails to stop is then added to the
    /// report as a failure and the report written again.
    /// </summary>
    internal static async Task<(RunReport Report, IReadOnlyList<string> Files)> WriteThenStopAsync(string name, RunReport report, string folder, bool plots, IScenario scenario)
    {
        var files = ReportWriter.Write(report, folder, plots);
        if (await StopAsync(name, scenario) is { } stopError)
        {
            report = report with { FailedChecks = [.. report.FailedChecks, stopError] };
            files = ReportWriter.Write(report, folder, plots);
        }
        return (report, files);
    }

    /// <summary>
    /// Stops the scenario's target (its registry, clients, child processes). An error doing so is written to stderr and
    /// returned as a failed check of the run, instead of ending the process with an unhandled exception before the
    /// report of what was measured is written.
    /// </summary>
    internal static async Task<string?> StopAsync(string name, IScenario scenario)
    {
        try
        {
            await scenario.DisposeAsync();
            return null;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"{name}: stopping the target failed: {e}");
            return $"stopping the target failed (its stack trace is on stderr): {e.GetType().Name}: {LoadRun.FirstLine(e.Message)}";
        }
    }

    /// <summary>The results table on the console: report.md's columns and rows (<see cref="ReportWriter.SummaryColumns"/>).</summary>
    internal static Table SummaryTable(RunReport report)
    {
        var table = new Table().Border(TableBorder.Rounded).Title(Markup.Escape($"{report.Scenario}{(report.Partial ? " (partial)" : "")}"))
            .AddColumns([.. ReportWriter.SummaryColumns.Select(Markup.Escape)]);
        foreach (var s in report.Summaries())
        {
            table.AddRow([.. ReportWriter.SummaryCells(s).Select(Markup.Escape)]);
        }
        return table;
    }

    private static void Summary(RunReport report)
    {
        AnsiConsole.Write(SummaryTable(report));
        if (report.Summaries().Any(s => s.TooFewCallsForARate))
        {
            Console.WriteLine(StepSummary.NoRateNote);
        }
        foreach (var r in report.Ratios())
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{r.Step} ÷ {r.Ceiling} = {r.Median:0.00}"));
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{report.Environment.Cores} cores, load average {report.Environment.LoadBefore} → {report.Environment.LoadAfter}, peak RSS {report.Environment.PeakRssBytes / 1e6:N0} MB; failures: {report.Failures}"));
    }

    private static void Usage()
    {
        Console.WriteLine("Registry.LoadTests SCENARIO [options]");
        Console.WriteLine();
        foreach (var s in Catalog.All)
        {
            Console.WriteLine($"  {s.Name,-16} {s.Summary}");
        }
        Console.WriteLine();
        Console.WriteLine("Every scenario: --model open:RATE[..RATE/RAMP] | closed:N[..N/RAMP]  --duration 10s  --count N  --warmup 2s  --drain 30s");
        Console.WriteLine("                --rounds 1  --ceiling-duration D  --no-ceiling  --no-plots  --no-live  --out FOLDER (default TestResults/loadtests/SCENARIO-TIME)");
        Console.WriteLine("Scenario options: see loadtests/README.md.");
    }
}
