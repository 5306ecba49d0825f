using System.Diagnostics;
using Registry.Bench;
using Registry.Bench.Heartbeats;
using Registry.Bench.Jobs;
using Registry.Bench.Scale;

namespace Registry.Tests.Bench;

/// <summary>
/// What the hostile review of the load harness found in Registry.Bench (2026-12-07): <c>--help</c>, a misspelt command
/// or an unknown option started a full run (a 1,000,000-device fill for <c>scale --help</c>); bad values ended in a
/// stack trace (exit 134); <c>--rounds 0</c> crashed after starting; a SIGTERM was ignored and the run went on to its end.
/// </summary>
public sealed class BenchCommandLineTests
{
    [Theory]
    [InlineData(new[] { "--bogus" }, "unknown option '--bogus'")]
    [InlineData(new[] { "--rounds", "0" }, "--rounds is 1..")]
    [InlineData(new[] { "--rounds", "-1" }, "--rounds is 1..")]
    [InlineData(new[] { "--seconds", "soon" }, "--seconds takes a whole number")]
    [InlineData(new[] { "--set", "Registry:DeviceStorage" }, "--set takes Key=Value")]
    [InlineData(new[] { "--rounds" }, "--rounds needs a value")]
    public void The_registry_benchmark_refuses_unknown_options_and_values_out_of_range_by_name(string[] args, string message)
    {
        var refusal = Assert.Throws<UsageException>(() => BenchOptions.Parse(args));
        Assert.Contains(message, refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Each_commands_options_are_checked_before_anything_starts()
    {
        Assert.Contains("unknown option '--bogus'", Assert.Throws<UsageException>(() => ScaleOptions.Parse(["--bogus"])).Message, StringComparison.Ordinal);
        Assert.Contains("--devices", Assert.Throws<UsageException>(() => ScaleOptions.Parse(["--devices", "-1"])).Message, StringComparison.Ordinal);
        Assert.Contains("--devices", Assert.Throws<UsageException>(() => HeartbeatOptions.Parse(["--devices", "-5"])).Message, StringComparison.Ordinal);
        Assert.Contains("--devices is 1..", (await Assert.ThrowsAsync<UsageException>(() => JobsCommand.RunAsync(["--devices", "0"]))).Message, StringComparison.Ordinal);
        Assert.Contains("--rounds takes a whole number", (await Assert.ThrowsAsync<UsageException>(() => MonitorCostCommand.RunAsync(["--rounds", "x"]))).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "--help" }, 0, "Registry.Bench scale")]
    [InlineData(new[] { "scale", "--help" }, 0, "Registry.Bench scale")]
    [InlineData(new[] { "bogus" }, 2, "unknown command 'bogus'")]
    [InlineData(new[] { "scale", "--bogus" }, 2, "scale: unknown option '--bogus'")]
    public async Task The_command_line_answers_help_and_refuses_what_it_cannot_run_with_exit_code_2_and_starts_nothing(string[] args, int exitCode, string said)
    {
        var ct = TestContext.Current.CancellationToken;
        using var bench = Start(args);
        var output = bench.StandardOutput.ReadToEndAsync(ct);
        var error = bench.StandardError.ReadToEndAsync(ct);
        await bench.WaitForExitAsync(ct).WaitAsync(TimeSpan.FromSeconds(60), ct);

        Assert.Equal(exitCode, bench.ExitCode);
        Assert.Contains(said, await output + await error, StringComparison.Ordinal);
        if (exitCode == 2)
        {
            Assert.Single((await error).Trim().Split('\n'));
            Assert.DoesNotContain("   at ", await error, StringComparison.Ordinal);
        }
    }

    /// <summary>SIGTERM during the warm-up round: the run ends at once with nothing measured, exit code 130, its registries stopped.</summary>
    [Fact(Timeout = 120_000)]
    public async Task Sigterm_ends_the_registry_benchmark_with_exit_code_130_instead_of_running_every_round()
    {
        var ct = TestContext.Current.CancellationToken;
        using var bench = Start(["--rounds", "50", "--seconds", "5", "--devices", "10", "--concurrency", "4"]);
        var error = bench.StandardError.ReadToEndAsync(ct);
        // Its first line comes once both registries serve and the signal handlers are in place; round 0 follows.
        while (await bench.StandardOutput.ReadLineAsync(ct) is { } line && !line.StartsWith("storage:", StringComparison.Ordinal))
        {
        }
        using (var kill = Process.Start("kill", ["-TERM", bench.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync(ct);
        }
        var output = await bench.StandardOutput.ReadToEndAsync(ct);
        await bench.WaitForExitAsync(ct);

        Assert.Equal(130, bench.ExitCode);
        Assert.Contains("stopped before any round was measured", output, StringComparison.Ordinal);
        Assert.Contains("SIGTERM:", await error, StringComparison.Ordinal);
    }

    private static Process Start(string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(typeof(BenchOptions).Assembly.Location);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        return Process.Start(start)!;
    }
}
