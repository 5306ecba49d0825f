using Microsoft.Extensions.Time.Testing;
using Orleans.TestingHost;

namespace Registry.Tests.Infrastructure;

/// <summary>
/// A two-silo test cluster configured by <typeparamref name="TConfigurator"/> (which calls <see cref="ClusterClock.Use"/>),
/// whose grains' clock is a <see cref="FakeTimeProvider"/> the test controls. Orleans' own machinery (messaging,
/// membership, the directory) stays on real time (<see cref="TestClocks.UseGrainClock"/>).
/// </summary>
public abstract class ClockedClusterFixture<TConfigurator>(string prefix) : IAsyncLifetime
    where TConfigurator : ISiloConfigurator, new()
{
    private readonly ClusterClock _clock = new();

    public FakeTimeProvider Clock => _clock.Clock;

    public TestCluster Cluster { get; private set; } = null!;

    public IGrainFactory Grains => Cluster.GrainFactory;

    public async ValueTask InitializeAsync() => Cluster = await RegistryClusterFixture.DeployAsync<TConfigurator>(prefix, _clock.AddTo);

    public async ValueTask DisposeAsync()
    {
        if (Cluster is not null) // else its start failed, and that failure is the one reported
        {
            await Cluster.StopAllSilosAsync();
            await Cluster.DisposeAsync();
        }
        _clock.Dispose();
        GC.SuppressFinalize(this);
    }
}
