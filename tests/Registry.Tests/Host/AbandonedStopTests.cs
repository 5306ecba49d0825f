using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Registry.Grains;
using Registry.Grains.Devices;
using Registry.Grains.Heartbeats;

namespace Registry.Tests.Host;

/// <summary>
/// A host that gives up on a stop that outlasted its timeout disposes its services while the silo's lifecycle still runs
/// its stop stages: each silo service's stop then came after its disposal and threw <see cref="ObjectDisposedException"/>,
/// which Orleans logged as an error with its stack (three per abandoned stop, hostile review 14, 2026-12-06). Each is
/// stopped here the way the lifecycle stops it, after being disposed.
/// </summary>
public sealed class AbandonedStopTests
{
    public static TheoryData<string> Services => ["ConnectedDevices", "PresenceWriter", "MonitorWaker"];

    [Theory]
    [MemberData(nameof(Services))]
    public async Task A_silo_service_stopped_after_the_host_disposed_it_stops_without_an_error(string service)
    {
        var lifecycle = new CapturingLifecycle();
        // Nothing the stop would use after disposal is given: a stop that reached for them would fail the test too.
        IDisposable participant = service switch
        {
            "ConnectedDevices" => Participating(new ConnectedDevices(null!, null!, TimeProvider.System), lifecycle),
            "PresenceWriter" => Participating(new PresenceWriter(null!, TimeProvider.System, Options.Create(new RegistryIndexOptions()),
                Options.Create(new PresenceOptions()), null!, null!, NullLogger<PresenceWriter>.Instance), lifecycle),
            "MonitorWaker" => Participating(new MonitorWaker(null!, null!, Options.Create(new RegistryIndexOptions()), NullLogger<MonitorWaker>.Instance), lifecycle),
            _ => throw new ArgumentOutOfRangeException(nameof(service)),
        };

        participant.Dispose();
        var observer = Assert.Single(lifecycle.Observers);
        await observer.OnStop(CancellationToken.None);
        // A second disposal (the container's, after the host's) is harmless too.
        participant.Dispose();
    }

    private static T Participating<T>(T participant, CapturingLifecycle lifecycle)
        where T : ILifecycleParticipant<ISiloLifecycle>
    {
        participant.Participate(lifecycle);
        return participant;
    }

    private sealed class CapturingLifecycle : ISiloLifecycle
    {
        public List<ILifecycleObserver> Observers { get; } = [];

        public int HighestCompletedStage => ServiceLifecycleStage.Active;

        public int LowestStoppedStage => int.MaxValue;

        public IDisposable Subscribe(string observerName, int stage, ILifecycleObserver observer)
        {
            Observers.Add(observer);
            return new NoSubscription();
        }

        private sealed class NoSubscription : IDisposable
        {
            public void Dispose()
            {
            }
        }
    }
}
