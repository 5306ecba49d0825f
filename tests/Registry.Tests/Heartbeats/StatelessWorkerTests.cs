using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Orleans.TestingHost;
using Registry.Abstractions;
using Registry.Host;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Heartbeats;

/// <summary>
/// <see cref="IHeartbeatBatchGrain"/> and <see cref="IDeviceRegistryGrain"/> are stateless workers: a call whose device
/// does not answer (its silo died, its grain waits to be activated again) must not hold the calls about other devices. Once, in the 100k alert soak with a
/// silo killed, every batch of the survivor queued behind the workers waiting for the dead silo's devices for 140 s, and
/// devices that had never left the survivor were announced missed.
/// </summary>
public sealed class StatelessWorkerTests
{
    private static readonly FakeTimeProvider Clock = new(DateTimeOffset.UtcNow);
    private static string s_held = "";

    /// <summary>Each test its own release (xunit runs a class's tests one after another).</summary>
    private static TaskCompletionSource s_released = new();

    public StatelessWorkerTests() => s_released = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    private static TaskCompletionSource Released => Volatile.Read(ref s_released);

    [Fact(Timeout = 120_000)]
    public Task A_batch_of_answering_devices_is_answered_while_every_worker_waits_for_a_device_that_does_not_answer() =>
        WithHeldDevice("hbbatch", TestContext.Current.CancellationToken, async (grains, held, ct) =>
        {
            var free = $"free-{Guid.NewGuid():N}";
            await grains.GetGrain<IDeviceGrain>(free).Create(DeviceInputs.Sas(free));
            var batches = grains.GetGrain<IHeartbeatBatchGrain>(0);

            var waiting = Waiting(() => batches.Heartbeat([held]));
            var answered = await batches.Heartbeat([free]).WaitAsync(ct);

            Assert.Equal([DeviceAccess.Granted], answered);
            Assert.All(waiting, w => Assert.False(w.IsCompleted));
            Released.SetResult();
            Assert.All(await Task.WhenAll(waiting).WaitAsync(ct), a => Assert.Equal([DeviceAccess.Granted], a));
        });

    [Fact(Timeout = 120_000)]
    public Task Statistics_are_answered_while_every_registry_worker_waits_for_a_bulk_item_whose_device_does_not_answer() =>
        WithHeldDevice("bulkhold", TestContext.Current.CancellationToken, async (grains, held, ct) =>
        {
            var registry = grains.GetGrain<IDeviceRegistryGrain>(0);

            var waiting = Waiting(() => registry.ApplyBulk([new BulkOperation(ImportMode.Delete, DeviceInputs.Sas(held), null)]));
            var statistics = await registry.GetStatistics().WaitAsync(ct);

            Assert.Equal(1, statistics.TotalDeviceCount);
            Assert.All(waiting, w => Assert.False(w.IsCompleted));
            Released.SetResult();
            await Task.WhenAll(waiting).WaitAsync(ct);
        });

    /// <summary>More waiting calls than a silo has stateless workers (one per core).</summary>
    private static Task<T>[] Waiting<T>(Func<Task<T>> call) => Enumerable.Range(0, Environment.ProcessorCount + 1).Select(_ => call()).ToArray();

    /// <summary>A one-silo cluster with a registered device whose every call waits for <see cref="Released"/>.</summary>
    private static async Task WithHeldDevice(string prefix, CancellationToken ct, Func<IGrainFactory, string, CancellationToken, Task> test)
    {
        var cluster = await RegistryClusterFixture.DeployAsync<Configurator>(prefix, b => b.Options.InitialSilosCount = 1);
        try
        {
            var held = $"held-{Guid.NewGuid():N}";
            await cluster.GrainFactory.GetGrain<IDeviceGrain>(held).Create(DeviceInputs.Sas(held));
            Volatile.Write(ref s_held, held);
            await test(cluster.GrainFactory, held, ct);
        }
        finally
        {
            Released.TrySetResult();
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }
    }

    private sealed class Configurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder silo)
        {
            silo.Services.UseGrainClock(Clock);
            silo.AddIncomingGrainCallFilter(async context =>
            {
                if (context.Grain is IDeviceGrain device && device.GetPrimaryKeyString() == Volatile.Read(ref s_held))
                {
                    await Released.Task; // the device whose silo died: its calls wait
                }
                await context.Invoke();
            });
            SiloConfiguration.ConfigureServices(silo, new RegistrySettings { IndexPartitions = RegistryClusterFixture.Partitions });
        }
    }
}
