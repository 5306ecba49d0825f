using Registry.Client;

namespace Registry.Tests.Cluster;

/// <summary>What a client app's start (<see cref="RegistryClientStart"/>) says when it cannot use its settings, in the test process.</summary>
public sealed class ClientStartTests
{
    /// <summary>
    /// A hostile review (2026-12-02): the client sample given <c>Registry:StorageConnectionString=garbage</c> ended on the
    /// Azure SDK's InvalidOperationException and its stack trace (exit 134).
    /// </summary>
    [Fact(Timeout = 60_000)]
    public async Task A_connection_string_that_does_not_parse_is_said_in_one_line_without_repeating_it()
    {
        var options = new RegistryClientOptions { StorageConnectionString = "garbage;AccountKey=c2VjcmV0LWtleQ==" };
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.AddRegistryClient(options);
        using var host = builder.Build();

        var line = await RegistryClientStart.StartAsync(host, options, TestContext.Current.CancellationToken);

        Assert.NotNull(line);
        Assert.StartsWith("Registry:StorageConnectionString is not an Azure Storage connection string", line, StringComparison.Ordinal);
        Assert.DoesNotContain("c2VjcmV0LWtleQ==", line, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', line);
    }
}
