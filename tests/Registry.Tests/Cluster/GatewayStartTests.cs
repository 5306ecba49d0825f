using Registry.Tests.Host;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Cluster;

/// <summary>A gateway process whose cluster has no silo up exits with code 1 and one line saying what to start.</summary>
public sealed class GatewayStartTests(AzuriteFixture azurite)
{
    [Fact(Timeout = 120_000)]
    public async Task A_gateway_whose_cluster_has_no_silo_exits_with_code_1_and_a_line_saying_to_start_the_silos()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var cluster = new RegistryClusterProcesses(azurite.ConnectionString, ["--Registry:ClusterConnectTimeoutSeconds=2"]);

        var gateway = cluster.StartGatewayProcess();
        var exitCode = await SecondStartTests.ExitCodeUnlessListening(gateway, ct);

        Assert.Equal(1, exitCode);
        var last = gateway.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[^1];
        Assert.StartsWith("No silo of the cluster answered", last, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", gateway.Output, StringComparison.Ordinal);
    }
}
