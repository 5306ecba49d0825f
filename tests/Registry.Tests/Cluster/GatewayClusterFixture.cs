using Registry.Gateway.Security;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Cluster;

/// <summary>
/// One silo process and two gateway processes of a durable cluster on the shared Azurite, the lifecycle route on, and
/// owner clients of each gateway signed with the key the cluster stores (read through a Registry.Client app).
/// </summary>
public sealed class GatewayClusterFixture(AzuriteFixture azurite) : IAsyncLifetime
{
    public RegistryClusterProcesses Cluster { get; } = new(azurite.ConnectionString,
        ["--Registry:Routes:0:Name=lifecycle", "--Registry:Routes:0:Source=DeviceLifecycleEvents"]);

    public RegistryProcess Silo { get; private set; } = null!;

    public GatewayProcess A { get; private set; } = null!;

    public GatewayProcess B { get; private set; } = null!;

    public IClusterClient Client { get; private set; } = null!;

    public HttpClient OwnerOfA { get; private set; } = null!;

    public HttpClient OwnerOfB { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        Silo = await Cluster.StartSiloAsync(ct);
        A = await Cluster.StartGatewayAsync(ct);
        B = await Cluster.StartGatewayAsync(ct);
        Client = await Cluster.ClientAsync(ct);
        var owner = await Cluster.PolicyAsync(SharedAccessPolicy.OwnerKeyName, ct);
        OwnerOfA = A.Client(owner.KeyName, owner.PrimaryKey);
        OwnerOfB = B.Client(owner.KeyName, owner.PrimaryKey);
    }

    /// <summary>The last lines each process printed: what a failed wait on the cluster reports.</summary>
    public string Logs(int lines = 40) => string.Join("\n", new[] { ("silo", Silo), ("gateway A", A?.Process), ("gateway B", B?.Process) }
        .Where(p => p.Item2 is not null)
        .Select(p => $"--- {p.Item1} (last {lines} lines) ---\n" + string.Join("\n", p.Item2!.Output.Split('\n').TakeLast(lines))));

    public async ValueTask DisposeAsync()
    {
        OwnerOfA?.Dispose();
        OwnerOfB?.Dispose();
        await Cluster.DisposeAsync();
    }
}
