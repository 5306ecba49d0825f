using Registry.Tests.Host;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Cluster;

/// <summary>A gateway process that cannot serve its cluster (no silo up, another ServiceId) exits with code 1 and one line saying why.</summary>
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
        // The line alone: the generic host logged "Hosting failed to start" with the exception's stack trace before it.
        Assert.DoesNotContain("Hosting failed to start", gateway.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(gateway.Output.Split('\n'), line => line.TrimStart().StartsWith("at ", StringComparison.Ordinal));
        // Nor the generic host's Debug lines ("Hosting starting"), which the filter that drops its error let through (a review, 2026-12-03).
        Assert.DoesNotContain("dbug:", gateway.Output, StringComparison.Ordinal);
    }

    [Fact(Timeout = 180_000)]
    public async Task A_gateway_with_another_service_id_than_its_silos_exits_with_code_1_naming_both_and_the_cluster_serves_on_and_each_start_line_labels_the_management_port()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var cluster = new RegistryClusterProcesses(azurite.ConnectionString);
        var management = FreePorts.Take(1)[0];
        var silo = await cluster.StartSiloAsync(ct, $"--Registry:Observability:Port={management}");
        // The silo's start line says which port is which: its management port (where /metrics is) was labelled "(health)"
        // like its health port (a review, 2026-12-03).
        var listening = silo.Output.Split('\n').Single(l => l.Contains(RegistryProcess.ListeningLine, StringComparison.Ordinal));
        Assert.Contains($"http://127.0.0.1:{management} (management: /metrics)", listening, StringComparison.Ordinal);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(listening, @"http://127\.0\.0\.1:\d+ \(health\)"));

        // Orleans lets a client join by ClusterId alone: before the check, this gateway listened and served the cluster.
        var wrong = cluster.StartGatewayProcess("--Registry:ServiceId=another-service");
        var exitCode = await SecondStartTests.ExitCodeUnlessListening(wrong, ct);

        Assert.Equal(1, exitCode);
        var last = wrong.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[^1];
        Assert.StartsWith($"The silos of cluster '{cluster.ClusterId}' run Registry:ServiceId '{cluster.ClusterId}', but this process is configured with 'another-service'", last, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", wrong.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("dbug:", wrong.Output, StringComparison.Ordinal);

        // The silo was not harmed: a gateway with its ServiceId serves a create.
        var gateway = await cluster.StartGatewayAsync(ct, observed: true);
        var gatewayListening = gateway.Process.Output.Split('\n').Single(l => l.Contains(RegistryProcess.ListeningLine, StringComparison.Ordinal));
        Assert.Contains($"http://127.0.0.1:{gateway.ManagementPort} (management: /metrics)", gatewayListening, StringComparison.Ordinal);
        var owner = await cluster.PolicyAsync(Registry.Gateway.Security.SharedAccessPolicy.OwnerKeyName, ct);
        using var http = gateway.Client(owner.KeyName, owner.PrimaryKey);
        var created = await http.CreateDeviceAsync(DeviceInputs.NewId("sid")).WaitAsync(ct);
        Assert.NotNull((string?)created["etag"]);
    }
}
