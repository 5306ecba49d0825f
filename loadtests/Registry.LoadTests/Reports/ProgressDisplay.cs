using System.Globalization;
using Registry.LoadTests.Harness;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Registry.LoadTests.Reports;

/// <summary>
/// Progress while a run goes: in a terminal, a live table of the current step (phase, elapsed, target, submitted,
/// completed, in flight, failures, last second's rate and p99) above the latest log lines; when the output is
/// redirected (CI, tests/run.sh), the same as a plain line every few seconds.
/// </summary>
internal sealed class ProgressDisplay(bool enabled)
{
    private static readonly TimeSpan PlainInterval = TimeSpan.FromSeconds(5);
    private readonly Queue<string> _log = new();
    private volatile StepProgress? _current;

    private bool Interactive => enabled && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;

    public void Observe(StepProgress progress) => _current = progress;

    public void Log(string line)
    {
        if (!Interactive)
        {
            Console.WriteLine(line);
            return;
        }
        lock (_log)
        {
            _log.Enqueue(line);
            while (_log.Count > 10)
            {
                _log.Dequeue();
            }
        }
    }

    public async Task<T> RunAsync<T>(Func<Task<T>> run)
    {
        var work = run();
        if (Interactive)
        {
            await AnsiConsole.Live(Render()).AutoClear(false).StartAsync(async context =>
            {
                while (!work.IsCompleted)
                {
                    context.UpdateTarget(Render());
                    await Task.WhenAny(work, Task.Delay(500));
                }
                context.UpdateTarget(Render());
            });
        }
        else if (enabled)
        {
            while (!work.IsCompleted)
            {
                await Task.WhenAny(work, Task.Delay(PlainInterval));
                if (!work.IsCompleted && _current is { } p)
                {
                    Console.WriteLine(Plain(p));
                }
            }
        }
        return await work;
    }

    private static string Plain(StepProgress p)
    {
        var (rate, p99) = p.Recorder.Recent(p.Elapsed.TotalSeconds);
        return string.Create(CultureInfo.InvariantCulture,
            $"  {p.Step} round {p.Round} {p.Phase} {p.Elapsed.TotalSeconds:0}s: {p.Recorder.Submitted:N0} submitted, {p.Recorder.Completed:N0} completed, {p.Recorder.InFlight:N0} in flight, {p.Recorder.Failures.Values.Sum():N0} failed; last second {rate:N0} calls, p99 {p99:0.0} ms");
    }

    private IRenderable Render()
    {
        var table = new Table().Border(TableBorder.Rounded).AddColumns("step", "round", "phase", "elapsed", "model", "target now", "submitted", "completed", "in flight", "failed", "last s calls", "last s p99 ms");
        if (_current is { } p)
        {
            var (rate, p99) = p.Recorder.Recent(p.Elapsed.TotalSeconds);
            string N(double x) => x.ToString("N0", CultureInfo.InvariantCulture);
            table.AddRow(p.Step, p.Round.ToString(CultureInfo.InvariantCulture), p.Phase, $"{p.Elapsed.TotalSeconds:0}s", p.Model.ToString(), N(p.Model.At(p.Elapsed)),
                N(p.Recorder.Submitted), N(p.Recorder.Completed), N(p.Recorder.InFlight), N(p.Recorder.Failures.Values.Sum()), N(rate), p99.ToString("0.0", CultureInfo.InvariantCulture));
        }
        string[] lines;
        lock (_log)
        {
            lines = [.. _log];
        }
        return new Rows(table, new Text(string.Join('\n', lines)));
    }
}
