using Registry.LoadTests.Harness;

namespace Registry.Tests.LoadTests;

public sealed class RunEnvironmentTests
{
    [Theory]
    [InlineData("VmHWM:\t    1972 kB", 1972L * 1024)]
    [InlineData("VmHWM:\t10534120 kB", 10534120L * 1024)] // from 10 GB on, no space follows the tab (a 1M-device run crashed here)
    public void A_proc_status_line_gives_its_bytes_whatever_its_padding(string line, long bytes) =>
        Assert.Equal(bytes, RunEnvironment.StatusBytes(line));

    [Fact]
    public void A_proc_stat_text_gives_the_command_name_and_its_user_and_system_seconds()
    {
        var stat = "4242 (dotnet (x) y) S 1 4242 4242 0 -1 4194560 9133 0 0 0 1234 567 0 0 20 0 25 0 100 0 0";

        Assert.Equal(("dotnet (x) y", 18.01), RunEnvironment.ParseStat(stat));
    }

    /// <summary>
    /// A CI run's alert-soak smoke ended by SIGABRT, its cause unseen. The poll reads /proc on a timer, where an
    /// exception ends the process, and a process ending while it was read could give a text cut short: the parse
    /// threw on such a text (an index out of range, a format error) instead of skipping it.
    /// </summary>
    [Theory]
    [InlineData("")]
    [InlineData("4242 (dotnet")]
    [InlineData("4242 (dotnet)")]
    [InlineData("4242 (dotnet) S 1 4242")]
    [InlineData("4242 (dotnet) S 1 4242 4242 0 -1 4194560 9133 0 0 0 12x4 567 0")]
    public void A_proc_stat_text_cut_short_or_not_numbers_is_skipped_not_thrown_on(string stat) =>
        Assert.Null(RunEnvironment.ParseStat(stat));

    /// <summary>
    /// A process that starts and ends during a run (another test suite, a build) shared the cores too. Read only at
    /// the run's two ends, it was missing from the report; the run's polls remember it as last seen.
    /// </summary>
    [Fact(Timeout = 60_000)]
    public async Task A_process_that_used_the_cpu_and_ended_during_the_run_is_listed_with_what_it_used()
    {
        var ct = TestContext.Current.CancellationToken;
        using var sample = RunEnvironment.Begin();
        var start = new System.Diagnostics.ProcessStartInfo("sh")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-c");
        // Busy (builtins only, no child processes) until its own utime + stime reach a second, then it says so and
        // waits for its input to close.
        start.ArgumentList.Add("while :; do read -r l < /proc/$$/stat; set -- $l; [ $((${14} + ${15})) -ge 100 ] && break; done; echo busy; read _");
        using var busy = System.Diagnostics.Process.Start(start)!;
        Assert.Equal("busy", await busy.StandardOutput.ReadLineAsync(ct));
        sample.Poll();
        busy.StandardInput.Close();
        await busy.WaitForExitAsync(ct);

        var environment = sample.Finish();

        var listed = Assert.Single(environment.CoTenants, c => c.Pid == busy.Id);
        Assert.True(listed.CpuSeconds >= 1, $"{listed.CpuSeconds} CPU s");
    }
}
