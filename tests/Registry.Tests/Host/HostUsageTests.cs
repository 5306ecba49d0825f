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
    public async Task Help_and_version_answer_and_exit_0_without_starting_or_writing_anything(string argument, string answered)
    {
        var ct = TestContext.Current.CancellationToken;
        var work = Directory.CreateTempSubdirectory("registry-usage-").FullName;
        await using var host = RegistryProcess.Start(work, argument);

        Assert.Equal(0, await host.WaitForExitAsync(ct));

        Assert.Contains(answered, host.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(RegistryProcess.ListeningLine, host.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("warn:", host.Output, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(work));
    }
}
