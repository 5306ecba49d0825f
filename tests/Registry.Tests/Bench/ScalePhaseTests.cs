using Registry.Bench.Scale;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Bench;

/// <summary>
/// The benchmark's scale phase at a toy size: it must fill through the real HTTPS surface, walk and count every
/// device, and write a report with one row per step. Never timing: the rates it prints are not asserted.
/// </summary>
public sealed class ScalePhaseTests(AzuriteFixture azurite)
{
    private static ScaleOptions Small(ScaleMode mode, int devices, int step) => new()
    {
        Mode = mode,
        Devices = devices,
        Step = step,
        PhaseTime = TimeSpan.FromSeconds(0.5),
        StatisticsSamples = 2,
        Output = Path.Combine(Path.GetTempPath(), $"scale-test-{Guid.NewGuid():N}"),
    };

    [Fact]
    public async Task Memory_scale_phase_of_two_steps_walks_and_counts_every_device_and_reports_two_rows()
    {
        var options = Small(ScaleMode.Memory, devices: 1000, step: 500);

        var report = await ScaleBench.RunAsync(options, TextWriter.Null, TestContext.Current.CancellationToken);

        AssertCompleteSteps(report, 500, 1000);
        Assert.Equal(["get", "put-create"], report.Phases.Select(p => p.Name));
        AssertWritten(report, options, stepRows: 2, phaseRows: 2);
    }

    [Fact]
    public async Task Durable_scale_phase_of_two_steps_walks_and_counts_every_device_and_measures_table_ceilings()
    {
        // The shared Azurite is slow while the whole suite runs: a long storage timeout keeps items from answering 503.
        var options = Small(ScaleMode.Durable, devices: 400, step: 200) with
        {
            Storage = azurite.ConnectionString,
            // Batched device rows: the walk's ceiling, a raw scan of this run's device-row tables, is measured too.
            HostSettings = new Dictionary<string, string?> { ["Registry:StorageTimeoutSeconds"] = "120", ["Registry:DeviceStorage"] = "Batched" },
        };

        var report = await ScaleBench.RunAsync(options, TextWriter.Null, TestContext.Current.CancellationToken);

        AssertCompleteSteps(report, 200, 400);
        Assert.Equal(
            ["table-insert (start)", "table-egt100 (start)", "get", "put-create", "table-insert (end)", "table-egt100 (end)", "raw-scan (end)"],
            report.Phases.Select(p => p.Name));
        AssertWritten(report, options, stepRows: 2, phaseRows: 7);
    }

    [Fact]
    public async Task Durable_scale_phase_filled_by_import_jobs_walks_and_counts_every_device_the_jobs_created()
    {
        var options = Small(ScaleMode.Durable, devices: 400, step: 200) with
        {
            Fill = ScaleFill.Import,
            Ceilings = false,
            Storage = azurite.ConnectionString,
            HostSettings = new Dictionary<string, string?> { ["Registry:StorageTimeoutSeconds"] = "120" },
        };

        var report = await ScaleBench.RunAsync(options, TextWriter.Null, TestContext.Current.CancellationToken);

        AssertCompleteSteps(report, 200, 400);
        Assert.Equal(["get", "put-create"], report.Phases.Select(p => p.Name));
        AssertWritten(report, options, stepRows: 2, phaseRows: 2);
    }

    [Theory]
    [InlineData("--fill", "import")]
    [InlineData("--fill", "import", "--mode", "memory")]
    [InlineData("--fill", "blobs", "--mode", "durable")]
    public void An_import_fill_outside_durable_mode_or_an_unknown_fill_is_refused(params string[] args) =>
        Assert.Throws<Registry.Bench.UsageException>(() => ScaleOptions.Parse(args));

    /// <summary>
    /// A fresh-machine suite run failed both scale tests with "The input string 'kB' was not in a correct format": the
    /// test process's peak had reached 8 digits of kB, which the kernel writes right after the tab, with no space.
    /// </summary>
    [Theory]
    [InlineData("VmHWM:\t  320708 kB", 320708L * 1024)]
    [InlineData("VmHWM:\t12582912 kB", 12582912L * 1024)]
    [InlineData("VmHWM:\t123456789 kB", 123456789L * 1024)]
    public void A_status_field_is_read_however_wide_its_number(string line, long bytes) =>
        Assert.Equal(bytes, Memory.StatusBytes(["Name:\tdotnet", "VmPeak:\t99999999 kB", line, "VmRSS:\t    2048 kB"], "VmHWM:"));

    [Fact]
    public void A_status_field_that_is_missing_or_not_a_number_reads_as_unknown()
    {
        Assert.Null(Memory.StatusBytes(["Name:\tdotnet", "VmRSS:\t    2048 kB"], "VmHWM:"));
        Assert.Null(Memory.StatusBytes(["VmHWM:\t"], "VmHWM:"));
        Assert.Null(Memory.StatusBytes(["VmHWM:\t  12x4 kB"], "VmHWM:"));
    }

    private static void AssertCompleteSteps(ScaleReport report, params long[] sizes)
    {
        Assert.Empty(report.Notes); // failed items by error code, counts that disagree: named here if any
        Assert.Equal(sizes, report.Steps.Select(s => s.To));
        Assert.All(report.Steps, s =>
        {
            Assert.False(s.Partial);
            Assert.Equal(0, s.Failed);
            Assert.True(s.WalkComplete);
            Assert.Equal(s.To, s.Walked);
            Assert.Equal(s.To, s.StatisticsTotal);
        });
        Assert.All(report.Phases, p => Assert.Equal(0, p.Errors));
        Assert.Equal(0, report.Failures);
        Assert.StartsWith("reached", report.StopReason, StringComparison.Ordinal);
    }

    private static void AssertWritten(ScaleReport report, ScaleOptions options, int stepRows, int phaseRows)
    {
        ScaleCommand.Write(options.Output!, report);
        try
        {
            var markdown = File.ReadAllText(options.Output + ".md");
            Assert.Equal(stepRows, markdown.Split('\n').Count(l => l.StartsWith("| 1 |", StringComparison.Ordinal) || l.StartsWith("| 2 |", StringComparison.Ordinal)));
            Assert.Equal(1 + stepRows, File.ReadAllLines(options.Output + ".steps.csv").Length);
            Assert.Equal(1 + phaseRows, File.ReadAllLines(options.Output + ".phases.csv").Length);
        }
        finally
        {
            foreach (var suffix in new[] { ".md", ".steps.csv", ".phases.csv" })
            {
                File.Delete(options.Output + suffix);
            }
        }
    }
}
