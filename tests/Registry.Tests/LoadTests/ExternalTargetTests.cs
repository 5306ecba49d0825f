using System.Globalization;
using Registry.LoadTests.Scenarios;
using Registry.Tests.Host;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.LoadTests;

/// <summary>
/// The harness's target mode against a running registry (<c>--cluster --cluster-id --service-id</c>), a real host process
/// on its own ports and ids. A review (2026-12-07) ran it with a wrong <c>--service-id</c> to its end (exit 0, 100
/// devices registered in that registry), and a wrong <c>--cluster-id</c> was said as "no Orleans gateway answered"
/// although one was listening.
/// </summary>
public sealed class ExternalTargetTests
{
    [Fact(Timeout = 180_000)]
    public async Task A_registry_of_another_service_id_is_refused_naming_both_another_cluster_id_names_the_option_and_its_own_ids_connect()
    {
        var ct = TestContext.Current.CancellationToken;
        var work = Directory.CreateTempSubdirectory("registry-target-").FullName;
        var ports = FreePorts.Take(3);
        var id = Guid.NewGuid().ToString("N")[..8];
        var (clusterId, serviceId) = ($"target-{id}", $"service-{id}");
        await using var host = RegistryProcess.Start(work,
            [.. SecondStartTests.Arguments(Path.Combine(work, "data"), ports), $"--Registry:ClusterId={clusterId}", $"--Registry:ServiceId={serviceId}"]);
        await host.WaitUntilListeningAsync(ct);
        var gateway = string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{ports[2]}");

        var wrongService = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            RegistryTarget.ConnectExternalAsync(gateway, clusterId, "not-" + serviceId, ct, TimeSpan.FromSeconds(30)));
        Assert.Contains($"runs Registry:ServiceId '{serviceId}', not 'not-{serviceId}'", wrongService.Message, StringComparison.Ordinal);

        var wrongCluster = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            RegistryTarget.ConnectExternalAsync(gateway, "not-" + clusterId, serviceId, ct, TimeSpan.FromSeconds(1)));
        Assert.Contains("accepted the client within 1 s", wrongCluster.Message, StringComparison.Ordinal);
        Assert.Contains("--cluster-id is the cluster's Registry:ClusterId", wrongCluster.Message, StringComparison.Ordinal);

        await using var target = await RegistryTarget.ConnectExternalAsync(gateway, clusterId, serviceId, ct, TimeSpan.FromSeconds(30));
        Assert.Contains(clusterId, target.Description, StringComparison.Ordinal);
    }
}
