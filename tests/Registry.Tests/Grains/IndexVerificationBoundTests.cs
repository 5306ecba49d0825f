using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Core.Internal;
using Orleans.TestingHost;
using Registry.Abstractions;
using Registry.Grains.Index;
using Registry.Host;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Grains;

/// <summary>
/// Found by a hostile review, 2026-12-04: restarting a durable registry of 1,024 partitions, its first statistics took
/// 29 s and answered 503. Each partition checked the devices it loaded 16 at a time, so partitions activating together
/// started 16 checks each (a device activation and a row read apiece) and buried the silo's storage slots. A silo now
/// bounds the checks of all its partitions together.
/// </summary>
public sealed class IndexVerificationBoundTests
{
    private const int Partitions = 16;
    private const int DevicesPerPartition = DeviceIndexGrain.VerifyConcurrency + 4;

    [Fact(Timeout = 120_000)]
    public async Task Partitions_activating_together_keep_the_silos_verification_slots_of_device_checks_in_flight_and_check_every_device()
    {
        var ct = TestContext.Current.CancellationToken;
        var cluster = await RegistryClusterFixture.DeployAsync<Configurator>("verify-bound", b => b.Options.InitialSilosCount = 1);
        var services = ((InProcessSiloHandle)cluster.Primary!).SiloHost.Services;
        var checks = services.GetRequiredService<HeldChecks>();
        try
        {
            var grains = cluster.GrainFactory;
            var ids = await CreateDevicesAsync(grains);
            var before = await grains.GetGrain<IDeviceRegistryGrain>(0).GetStatistics();

            // Every partition reloads at once, as after a restart; the devices' checks are held where they arrive.
            checks.Hold();
            await DeactivatePartitionsAsync(grains);
            Assert.Equal(before, await grains.GetGrain<IDeviceRegistryGrain>(0).GetStatistics()); // activates them all

            // Each partition's first batch has arrived: at a check, or waiting for one of the silo's slots.
            var slots = services.GetRequiredService<IndexVerificationSlots>();
            var firstBatches = Partitions * DeviceIndexGrain.VerifyConcurrency;
            while (checks.InFlight + slots.Waiting < firstBatches)
            {
                await Task.Delay(10, ct); // polls a condition; nothing here waits for time to pass
            }
            Assert.Equal(16, slots.Limit);
            Assert.Equal(slots.Limit, checks.InFlight);
            // Statistics answer while the checks are held.
            Assert.Equal(before, await grains.GetGrain<IDeviceRegistryGrain>(0).GetStatistics());

            checks.Release();
            for (var p = 0; p < Partitions; p++)
            {
                await grains.GetGrain<IIndexVerification>(p).WhenVerified();
            }
            Assert.Equal(slots.Limit, checks.Peak);
            Assert.Equal(ids.Order(StringComparer.Ordinal), checks.Checked.Order(StringComparer.Ordinal));
        }
        finally
        {
            checks.Release();
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }
    }

    /// <summary>
    /// Found by a hostile review, 2026-12-06: a silo stopped (SIGTERM) while its partitions verified logged a warning with a
    /// stack for every check the pass still made (up to 12,907), and Orleans' errors for the calls, since the devices could
    /// no longer be placed. A stopping silo's passes start no check and log none that fails.
    /// </summary>
    [Fact(Timeout = 120_000)]
    public async Task A_silo_that_stops_during_verification_starts_no_further_check_and_logs_no_failed_one()
    {
        var ct = TestContext.Current.CancellationToken;
        var cluster = await RegistryClusterFixture.DeployAsync<Configurator>("verify-stop", b => b.Options.InitialSilosCount = 1);
        var services = ((InProcessSiloHandle)cluster.Primary!).SiloHost.Services;
        var checks = services.GetRequiredService<HeldChecks>();
        var logs = services.GetRequiredService<CapturedLogs>();
        try
        {
            var grains = cluster.GrainFactory;
            await CreateDevicesAsync(grains);
            checks.Hold();
            await DeactivatePartitionsAsync(grains);
            await grains.GetGrain<IDeviceRegistryGrain>(0).GetStatistics(); // activates them all: their passes start
            var slots = services.GetRequiredService<IndexVerificationSlots>();
            while (checks.InFlight < slots.Limit)
            {
                await Task.Delay(10, ct); // polls a condition; nothing here waits for time to pass
            }

            // The stop begins while the first checks are held and the rest wait for slots; then the held ones go on.
            var stopping = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using var registration = services.GetRequiredService<Microsoft.Extensions.Hosting.IHostApplicationLifetime>().ApplicationStopping.Register(stopping.SetResult);
            var stop = cluster.StopSiloAsync(cluster.Primary!);
            await stopping.Task.WaitAsync(ct);
            var started = checks.Checked.Count;
            checks.Release();
            await stop.WaitAsync(ct);

            Assert.Equal(started, checks.Checked.Count);
            Assert.DoesNotContain(logs.Lines, l => l.Text.Contains("Index verification could not check device", StringComparison.Ordinal));
            Assert.DoesNotContain(logs.Lines, l => l.Level >= LogLevel.Error && l.Text.Contains("IIndexedDevice", StringComparison.Ordinal));
        }
        finally
        {
            checks.Release();
            await cluster.DisposeAsync();
        }
    }

    /// <summary>
    /// Found by a hostile review, 2026-12-07: while another silo stopped under load, a silo's partitions logged a warning
    /// with a stack for each device their verification could not check (3,323 of them). Each pass now says it once: how
    /// many of its checks failed, and the first one's error.
    /// </summary>
    [Fact(Timeout = 120_000)]
    public async Task A_verification_pass_whose_checks_fail_logs_one_line_for_the_partition_not_one_per_device()
    {
        var cluster = await RegistryClusterFixture.DeployAsync<Configurator>("verify-fail", b => b.Options.InitialSilosCount = 1);
        var services = ((InProcessSiloHandle)cluster.Primary!).SiloHost.Services;
        var checks = services.GetRequiredService<HeldChecks>();
        var logs = services.GetRequiredService<CapturedLogs>();
        try
        {
            var grains = cluster.GrainFactory;
            var ids = await CreateDevicesAsync(grains);
            checks.Failing = true;
            await DeactivatePartitionsAsync(grains);
            await grains.GetGrain<IDeviceRegistryGrain>(0).GetStatistics(); // activates them all: their passes start
            for (var p = 0; p < Partitions; p++)
            {
                await grains.GetGrain<IIndexVerification>(p).WhenVerified().WaitAsync(TestContext.Current.CancellationToken);
            }

            Assert.Equal(ids.Count, checks.Checked.Count);
            var lines = logs.Lines.Where(l => l.Text.Contains("could not check", StringComparison.Ordinal)).ToList();
            Assert.Equal(Partitions, lines.Count);
            Assert.All(lines, l => Assert.Contains($"could not check {DevicesPerPartition} of the {DevicesPerPartition} entries", l.Text, StringComparison.Ordinal));
        }
        finally
        {
            checks.Failing = false;
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }
    }

    /// <summary>Creates <see cref="DevicesPerPartition"/> devices in each partition; their ids.</summary>
    private static async Task<List<string>> CreateDevicesAsync(IGrainFactory grains)
    {
        var ids = Enumerable.Range(0, Partitions).SelectMany(p => IdsOf(p, DevicesPerPartition)).ToList();
        foreach (var id in ids)
        {
            await grains.GetGrain<IDeviceGrain>(id).Create(DeviceInputs.Sas(id));
        }
        return ids;
    }

    /// <summary>Every partition goes, so the next call reloads them all at once, as after a restart.</summary>
    private static async Task DeactivatePartitionsAsync(IGrainFactory grains)
    {
        for (var p = 0; p < Partitions; p++)
        {
            await grains.GetGrain<IDeviceIndexGrain>(p).Cast<IGrainManagementExtension>().DeactivateOnIdle();
        }
    }

    private static IEnumerable<string> IdsOf(int partition, int count)
    {
        var prefix = $"bound-{Guid.NewGuid():N}";
        return Enumerable.Range(0, int.MaxValue).Select(i => $"{prefix}-{i}")
            .Where(id => DevicePartitioner.PartitionOf(id, Partitions) == partition).Take(count);
    }

    /// <summary>Device checks (<see cref="IIndexedDevice.Verify"/>) of the silo: counted, and held while <see cref="Hold"/> is on.</summary>
    private sealed class HeldChecks
    {
        private readonly Lock _lock = new();
        private TaskCompletionSource _released = Released();
        private int _inFlight;
        private readonly List<string> _checked = [];

        public int InFlight { get { lock (_lock) { return _inFlight; } } }

        public int Peak { get; private set; }

        public IReadOnlyList<string> Checked { get { lock (_lock) { return _checked.ToList(); } } }

        /// <summary>While set, each check fails (after it is counted), as a device that cannot be reached.</summary>
        public volatile bool Failing;

        public void Hold() => _released = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Release() => _released.TrySetResult();

        public async Task Check(string deviceId, Func<Task> invoke)
        {
            lock (_lock)
            {
                _inFlight++;
                Peak = Math.Max(Peak, _inFlight);
                _checked.Add(deviceId);
            }
            try
            {
                await _released.Task;
                if (Failing)
                {
                    throw new InvalidOperationException("the device could not be reached (injected)");
                }
                await invoke();
            }
            finally
            {
                lock (_lock)
                {
                    _inFlight--;
                }
            }
        }

        private static TaskCompletionSource Released()
        {
            var released = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            released.SetResult();
            return released;
        }
    }

    private sealed class Configurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder silo)
        {
            silo.Services.AddSingleton<HeldChecks>();
            silo.Services.AddSingleton<CapturedLogs>();
            silo.Services.AddSingleton<ILoggerProvider>(sp => sp.GetRequiredService<CapturedLogs>());
            silo.AddIncomingGrainCallFilter<HeldCheckFilter>();
            SiloConfiguration.ConfigureServices(silo, new RegistrySettings { IndexPartitions = Partitions });
        }
    }

    private sealed class HeldCheckFilter(HeldChecks checks) : IIncomingGrainCallFilter
    {
        public Task Invoke(IIncomingGrainCallContext context) =>
            context.Grain is IIndexedDevice && context.InterfaceMethod.Name == nameof(IIndexedDevice.Verify)
                ? checks.Check(context.TargetId.Key.ToString()!, context.Invoke)
                : context.Invoke();
    }
}
