using Registry.Host;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Host;

/// <summary>
/// Hostile review, 2026-12-07: <c>Registry.Host --help</c> and <c>--version</c> started a full registry on the default
/// ports, created <c>registry-data/</c> with a new owner key and served until killed. They answer and end now, before
/// anything is bound or written.
/// </summary>
public sealed class HostUsageTests
{
    [Theory(Timeout = 60_000)]
    [InlineData("--help", "Usage: dotnet Registry.Host.dll")]
    [InlineData("-h", "Usage: dotnet Registry.Host.dll")]
    [InlineData("--version", "Registry.Host 1.0.0")]
    // A review (2026-12-08): beside settings each started the full registry; the second took the bad setting for help's value.
    [InlineData("--Registry:HttpsPort=1 --help", "Usage: dotnet Registry.Host.dll")]
    [InlineData("--help --Registry:IndexPartitions=0", "Usage: dotnet Registry.Host.dll")]
    [InlineData("--Registry:HttpsPort=1 --version", "Registry.Host 1.0.0")]
    public async Task Help_and_version_answer_and_exit_0_without_starting_or_writing_anything(string arguments, string answered)
    {
        var ct = TestContext.Current.CancellationToken;
        var work = Directory.CreateTempSubdirectory("registry-usage-").FullName;
        await using var host = RegistryProcess.Start(work, arguments.Split(' '));

        Assert.Equal(0, await host.WaitForExitAsync(ct));

        Assert.Contains(answered, host.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(RegistryProcess.ListeningLine, host.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("warn:", host.Output, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(work));
    }

    /// <summary>
    /// A review (2026-12-08): a single dash ended in .NET's FormatException with a stack (exit code 134); a misspelt root
    /// and a last setting without a value were ignored while the registry started on its defaults.
    /// </summary>
    [Theory]
    [InlineData("-Registry:HttpsPort=42445", "'-Registry:HttpsPort=42445' is not understood: give each setting as --Registry:<Setting>=<value> (two dashes)")]
    [InlineData("--Regsitry:HttpsPort=9443", "Regsitry:HttpsPort is not a setting of the registry (misspelt?")]
    [InlineData("--Registry:StorageConnectionString=x --Registry:HttpsPort", "--Registry:HttpsPort has no value: give it as --Registry:HttpsPort=<value>")]
    [InlineData("Registry:HttpsPort", "'Registry:HttpsPort' is not understood")]
    [InlineData("--=1", "'--=1' names no setting")]
    // A re-check (2026-12-08): .NET took the next setting for the value (a data folder named "--Registry:ServiceId=zzz").
    [InlineData("--Registry:DataFolder --Registry:ServiceId=zzz", "--Registry:DataFolder has no value")]
    public void A_command_line_the_configuration_would_misread_is_refused_in_one_line(string arguments, string named)
    {
        var problem = HostUsage.ArgumentProblem(arguments.Split(' '));

        Assert.NotNull(problem);
        Assert.StartsWith("Invalid command line, nothing was started: ", problem, StringComparison.Ordinal);
        Assert.Contains(named, problem, StringComparison.Ordinal);
    }

    /// <summary>The forms .NET's configuration reads, under the registry's and logging's roots, pass.</summary>
    [Fact]
    public void The_command_line_forms_the_configuration_reads_pass()
    {
        Assert.Null(HostUsage.ArgumentProblem([
            "--Registry:HttpsPort=9443", "--registry:mqttport", "9883", "/Registry:SiloPort=11112", "/Registry:GatewayPort", "30001",
            "Registry:HostName=localhost", "--Logging:LogLevel:Default=Warning", "--Registry:CertificatePassword=a=b",
        ]));
    }

    /// <summary>The process itself: exit code 1, the one line, and nothing written (it crashed with exit code 134 before).</summary>
    [Fact(Timeout = 60_000)]
    public async Task A_single_dash_setting_exits_1_with_one_line_and_writes_nothing()
    {
        var ct = TestContext.Current.CancellationToken;
        var work = Directory.CreateTempSubdirectory("registry-usage-").FullName;
        await using var host = RegistryProcess.Start(work, "-Registry:HttpsPort=42445");

        Assert.Equal(1, await host.WaitForExitAsync(ct));

        Assert.Contains("Invalid command line, nothing was started: '-Registry:HttpsPort=42445' is not understood", host.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", host.Output, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(work));
    }

    /// <summary>A re-check (2026-12-08): a help flag that is a setting's value is that value, as .NET reads it; any case asks for help.</summary>
    [Theory]
    [InlineData("--Registry:ServiceId -h", false)]
    [InlineData("--Registry:ServiceId --help", false)]
    [InlineData("--HELP", true)]
    [InlineData("/help", true)]
    [InlineData("--Registry:HttpsPort=1 --Help", true)]
    [InlineData("--Registry:ServiceId x --help", true)]
    public void A_help_flag_is_help_unless_it_is_a_settings_value(string arguments, bool help)
    {
        Assert.Equal(help, HostUsage.IsHelp(arguments.Split(' ')));
    }
}
