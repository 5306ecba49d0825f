using Registry.Tests.Infrastructure;

namespace Registry.Tests.Host;

/// <summary>The host reads appsettings.json from beside its binary, wherever it is started from.</summary>
public sealed class WorkingDirectoryTests
{
    [Fact(Timeout = 120_000)]
    public async Task Appsettings_beside_the_binary_apply_when_started_from_another_directory_and_data_stays_in_the_working_directory()
    {
        var ct = TestContext.Current.CancellationToken;
        var work = Directory.CreateTempSubdirectory("registry-cwd-").FullName;
        var ports = FreePorts.Take(3);
        await using var host = RegistryProcess.Start(work,
            $"--Registry:HttpsPort={ports[0]}", $"--Registry:SiloPort={ports[1]}", $"--Registry:GatewayPort={ports[2]}", "--Registry:MqttPort=0");
        await host.WaitUntilListeningAsync(ct);

        // The shipped appsettings.json sets "Orleans": "Warning": without it Orleans logs its start at Information.
        Assert.Contains("info: Registry.Host", host.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("info: Orleans", host.Output, StringComparison.Ordinal);
        // The documented default DataFolder (registry-data) is relative to the working directory.
        Assert.True(File.Exists(Path.Combine(work, "registry-data", "certs", "ca.pem")), host.Output);

        Assert.Equal(0, await host.TerminateAsync(ct));
    }
}
