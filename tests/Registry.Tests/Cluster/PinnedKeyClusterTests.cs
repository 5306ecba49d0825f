using System.Net;
using System.Security.Cryptography;
using Registry.Gateway.Security;
using Registry.Tests.Host;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Cluster;

/// <summary>
/// A key pinned on a gateway of a durable cluster (<c>Registry:AccessPolicies</c>) is the cluster's key, or that gateway
/// does not start: never a key one gateway honours and another refuses.
/// </summary>
public sealed class PinnedKeyClusterTests(AzuriteFixture azurite)
{
    private const string Owner = SharedAccessPolicy.OwnerKeyName;

    [Fact(Timeout = 180_000)]
    public async Task An_owner_key_pinned_on_the_first_gateway_is_honoured_by_a_gateway_started_without_pins()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var cluster = new RegistryClusterProcesses(azurite.ConnectionString);
        var pinned = NewKey();
        await cluster.StartSiloAsync(ct);
        var a = await cluster.StartGatewayWithAsync(ct, $"--Registry:AccessPolicies:{Owner}:PrimaryKey={pinned}");
        var b = await cluster.StartGatewayAsync(ct);
        using var ownerOfA = a.Client(Owner, pinned);
        using var ownerOfB = b.Client(Owner, pinned);
        var id = DeviceInputs.NewId("pinned");

        await ownerOfA.CreateDeviceAsync(id).WaitAsync(ct);
        using var read = await ownerOfB.GetDeviceAsync(id).WaitAsync(ct);

        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.Equal(pinned, (await cluster.PolicyAsync(Owner, ct)).PrimaryKey);
    }

    [Fact(Timeout = 180_000)]
    public async Task A_gateway_pinning_an_owner_key_other_than_the_generated_one_the_cluster_logged_exits_with_code_1_naming_both_remedies_and_changes_nothing()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var cluster = new RegistryClusterProcesses(azurite.ConnectionString);
        var (first, stored) = await SiloAndGatewayAsync(cluster, ct);
        // The keys the cluster generated: the owner's logged once, by the gateway that generated them.
        Assert.Equal(2, first.Process.Output.Split($"SharedAccessKeyName={Owner};SharedAccessKey={stored.PrimaryKey}").Length);

        var last = await RefusedGatewayLastLineAsync(cluster, ct, $"--Registry:AccessPolicies:{Owner}:PrimaryKey={NewKey()}");

        Assert.StartsWith($"Registry:AccessPolicies:{Owner} differs from the key the cluster stores", last, StringComparison.Ordinal);
        Assert.Contains("remove the pin", last, StringComparison.Ordinal);
        Assert.Contains("pin the cluster's key", last, StringComparison.Ordinal);
        await AssertOwnerUnchangedAsync(cluster, first, stored, ct);
    }

    [Fact(Timeout = 180_000)]
    public async Task A_gateway_pinning_a_policy_the_cluster_does_not_store_exits_with_code_1_saying_so_and_adds_nothing()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var cluster = new RegistryClusterProcesses(azurite.ConnectionString);
        var (first, stored) = await SiloAndGatewayAsync(cluster, ct);

        var last = await RefusedGatewayLastLineAsync(cluster, ct, $"--Registry:AccessPolicies:foo:PrimaryKey={NewKey()}", "--Registry:AccessPolicies:foo:Rights=RegistryRead");

        // Not "differs from the key the cluster stores for 'foo'": the cluster stores no 'foo' at all.
        Assert.StartsWith("Registry:AccessPolicies:foo names a policy the cluster does not store", last, StringComparison.Ordinal);
        Assert.Contains(Owner, last, StringComparison.Ordinal);
        await Assert.ThrowsAsync<InvalidOperationException>(() => cluster.PolicyAsync("foo", ct));
        await AssertOwnerUnchangedAsync(cluster, first, stored, ct);
    }

    /// <summary>Starts a silo and a gateway without pins: the gateway that generated the cluster's policies, and its owner policy.</summary>
    private static async Task<(GatewayProcess First, Registry.Abstractions.AccessPolicyRecord Stored)> SiloAndGatewayAsync(RegistryClusterProcesses cluster, CancellationToken ct)
    {
        await cluster.StartSiloAsync(ct);
        var first = await cluster.StartGatewayAsync(ct);
        return (first, await cluster.PolicyAsync(Owner, ct));
    }

    /// <summary>Starts a gateway with <paramref name="arguments"/>, asserts it exits with code 1, and returns its last output line.</summary>
    private static async Task<string> RefusedGatewayLastLineAsync(RegistryClusterProcesses cluster, CancellationToken ct, params string[] arguments)
    {
        var pinning = cluster.StartGatewayProcess(arguments);
        Assert.Equal(1, await SecondStartTests.ExitCodeUnlessListening(pinning, ct));
        return pinning.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[^1];
    }

    /// <summary>The cluster still stores <paramref name="stored"/> as its owner policy, and the first gateway still serves it.</summary>
    private static async Task AssertOwnerUnchangedAsync(RegistryClusterProcesses cluster, GatewayProcess first, Registry.Abstractions.AccessPolicyRecord stored, CancellationToken ct)
    {
        Assert.Equal(stored, await cluster.PolicyAsync(Owner, ct));
        using var ownerOfFirst = first.Client(Owner, stored.PrimaryKey);
        using var listed = await ownerOfFirst.GetAsync($"devices?{ApiVersion}", ct);
        Assert.Equal(HttpStatusCode.OK, listed.StatusCode);
    }

    private static string NewKey() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
}
