using Registry.LoadTests.Harness;
using Registry.LoadTests.Scenarios;

namespace Registry.Tests.LoadTests;

/// <summary>Options that were taken and then ignored, or that could only fail the run, are refused before it starts.</summary>
public sealed class OptionConflictTests
{
    /// <summary>The review's D10: <c>heartbeat-http --mode single</c> was told "Unknown option: --mode", which heartbeat-grain takes.</summary>
    [Fact]
    public void An_option_of_another_scenario_is_refused_as_not_applying_naming_the_scenario_that_takes_it_and_a_misspelt_one_as_unknown()
    {
        var http = Catalog.All.Single(s => s.Name == "heartbeat-http");
        var arguments = new Arguments(["--mode", "single", "--devicez", "5"]);
        HarnessOptions.Read(arguments);
        http.Create(arguments);

        var e = Assert.Throws<ArgumentException>(() => arguments.EnsureAllRead(http.Name, (option, value) => Catalog.ScenariosTaking(option, value, except: http.Name)));

        Assert.Equal("Unknown option: --devicez; --mode does not apply to heartbeat-http (it is an option of heartbeat-grain).", e.Message);
    }

    /// <summary>A hostile review (2026-12-02): <c>list --devices 5</c> listed the scenarios and exited 0 as if the option were not there.</summary>
    [Theory]
    [InlineData("list")]
    [InlineData("--help")]
    public async Task List_and_help_given_an_option_refuse_it_with_exit_code_2(string command) =>
        Assert.Equal(2, await Registry.LoadTests.Program.Main([command, "--devices", "5"]));

    /// <summary><c>--devices 50 --devices 20</c> ran 20 devices without a word.</summary>
    [Fact]
    public void An_option_given_twice_is_refused_naming_it()
    {
        var e = Assert.Throws<ArgumentException>(() => new Arguments(["--devices", "50", "--devices", "20"]));
        Assert.Contains("--devices is given twice", e.Message, StringComparison.Ordinal);
    }

    /// <summary>heartbeat-http took both and dropped --interval; the report gave the model alone.</summary>
    [Fact]
    public void Heartbeat_http_refuses_an_interval_beside_a_load_model()
    {
        var e = Assert.Throws<ArgumentException>(() => new HeartbeatHttpScenario(new Arguments(["--devices", "100", "--interval", "1s", "--model", "closed:4"])));
        Assert.Contains("--interval or --model, not both", e.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// Without --cluster the registry is the harness's own and starts empty: --no-fill made every heartbeat answer
    /// NotRegistered, and --prefix named devices nobody had made.
    /// </summary>
    [Theory]
    [InlineData("--no-fill", null)]
    [InlineData("--prefix", "x-")]
    public void Heartbeat_grain_refuses_the_external_cluster_options_without_a_cluster(string option, string? value)
    {
        string[] args = value is null ? ["--devices", "100", option] : ["--devices", "100", option, value];
        var e = Assert.Throws<ArgumentException>(() => new HeartbeatGrainScenario(new Arguments(args)));
        Assert.Contains("go with --cluster", e.Message, StringComparison.Ordinal);
    }

    /// <summary>A wrong --mode and a too large --batch gave the same line naming both.</summary>
    [Theory]
    [InlineData("--mode", "bogus", "--mode takes single, batch or both; 'bogus' is not one.")]
    [InlineData("--batch", "5000", "--batch takes 1 to 1000 (the registry's largest heartbeat batch); 5000 is more.")]
    public void Heartbeat_grain_names_the_one_option_that_is_wrong(string option, string value, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => new HeartbeatGrainScenario(new Arguments([option, value])));
        Assert.Equal(message, e.Message);
    }

    /// <summary>
    /// An empty file, or a Registry.Host.dll copied without its build folder, was taken, and the run failed only after
    /// Azurite had started ("The registry exited with code 131 while starting").
    /// </summary>
    [Fact]
    public void Import_export_refuses_a_host_that_is_not_the_dll_of_a_build_folder()
    {
        var folder = Directory.CreateTempSubdirectory("harness-host-").FullName;
        try
        {
            var lone = Path.Combine(folder, "Registry.Host.dll");
            File.Copy(typeof(Registry.Host.RegistrySettings).Assembly.Location, lone);
            var empty = Path.Combine(folder, "empty");
            File.WriteAllText(empty, "");

            foreach (var host in new[] { lone, empty })
            {
                var e = Assert.Throws<ArgumentException>(() => new ImportExportScenario(new Arguments(["--host", host])));
                Assert.Contains("not the Registry.Host.dll of a build folder", e.Message, StringComparison.Ordinal);
            }
            // The dll of the build folder itself is taken.
            _ = new ImportExportScenario(new Arguments(["--host", typeof(Registry.Host.RegistrySettings).Assembly.Location]));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
