using Registry.Abstractions;
using Registry.Tests.Failure;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Cluster;

/// <summary>
/// The client app sample started right after a silo of its cluster was killed: a hostile review (2026-12-03) saw it crash
/// with an unhandled <c>OrleansMessageRejectionException</c> ("Unable to connect to" the dead silo, exit code 134) in 3 of
/// 3 kills, at every try from 2 to 9 s after the kill, while the other silos served.
/// </summary>
public sealed class ClientSampleFailoverTests(AzuriteFixture azurite)
{
    [Fact(Timeout = 180_000)]
    public async Task The_client_app_sample_started_right_after_a_silo_was_killed_reads_its_device_from_the_survivor()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var cluster = new RegistryClusterProcesses(azurite.ConnectionString);
        var siloPorts = FreePorts.Take(2);
        var silos = await Task.WhenAll(siloPorts.Select(port => cluster.StartSiloAsync(ct, $"--Registry:SiloPort={port}")));
        var client = await cluster.ClientAsync(ct);
        var id = DeviceInputs.NewId("sample-kill");
        var device = client.GetGrain<IDeviceGrain>(id);
        var created = await device.Create(DeviceInputs.Sas(id));
        // The silo that does not hold the device: the read needs no failover, only a client that passes the dead silo by.
        var home = await FailureCluster.SiloPortOf(client, device);
        await FailureCluster.KillAsync(silos[siloPorts[0] == home ? 1 : 0], ct);

        var (exitCode, output) = await GatewayProcessTests.RunClientSampleAsync([.. cluster.CommonArguments, $"--DeviceId={id}"], ct);

        Assert.True(exitCode == 0, $"exit {exitCode}: {output}");
        Assert.Equal($"{id} etag \"{created.ETag}\"", output.TrimEnd());
    }
}
