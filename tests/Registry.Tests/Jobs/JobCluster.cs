using Azure.Data.Tables;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Storage;
using Orleans.TestingHost;
using Registry.Grains;
using Registry.Grains.Jobs;
using Registry.Host;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Jobs;

/// <summary>
/// A two-silo test cluster for jobs on Azurite: job state, reminders, devices and index durable, and membership in an
/// Azure table too, so either silo (the one running a job may be the first) can be killed and the other carries on.
/// Every silo's job workers pass through a <see cref="SiloChunkGate"/> reporting to one <see cref="ChunkProbe"/>.
/// </summary>
public sealed class JobCluster : IAsyncDisposable
{
    // In-process silos are configured by type: the running test's settings reach them through these statics
    // (xunit runs the tests of one class one at a time, and each class deploying a JobCluster is its own collection).
    private static string s_connectionString = "";
    private static string s_prefix = "";
    private static ChunkProbe s_probe = new();
    private static Action<JobOptions> s_options = _ => { };
    private static string s_deviceStorage = "Table";
    private static int s_partitions = RegistryClusterFixture.Partitions;

    /// <summary>Holds the calls to one device grain, on whichever silo, while a test wants them held.</summary>
    public static HeldDevice HeldDevice { get; } = new();

    /// <summary>Index removals refused, for the devices a test names.</summary>
    public static RefusedIndexRemovals RefusedIndexRemovals { get; } = new();

    /// <summary>Failures to inject into the job storage (job state, checkpoints, the job list) of every silo.</summary>
    public static JobStorageFaults StorageFaults { get; } = new();

    /// <summary>Failures to inject into reads of the registry's device storage of every silo.</summary>
    public static DeviceReadFaults DeviceReadFaults { get; } = new();

    /// <summary>The log events of every silo a test waits for.</summary>
    public static LoggedEvents Logged { get; } = new();

    private JobCluster(TestCluster cluster, string prefix)
    {
        Cluster = cluster;
        Prefix = prefix;
    }

    public TestCluster Cluster { get; }

    /// <summary>The storage prefix: tables are named from it (e.g. <c>{Prefix}Reminders</c>).</summary>
    public string Prefix { get; }

    public IGrainFactory Grains => Cluster.GrainFactory;

    /// <summary>
    /// Deploys the cluster; <paramref name="deviceStorage"/> and <paramref name="partitions"/> as the host's
    /// <c>Registry:DeviceStorage</c> and <c>Registry:IndexPartitions</c>.
    /// </summary>
    public static async Task<JobCluster> DeployAsync(AzuriteFixture azurite, ChunkProbe probe, Action<JobOptions> options,
        string deviceStorage = "Table", int partitions = RegistryClusterFixture.Partitions)
    {
        s_connectionString = azurite.ConnectionString;
        s_deviceStorage = deviceStorage;
        s_partitions = partitions;
        s_prefix = "jobs" + Guid.NewGuid().ToString("N")[..10];
        s_probe = probe;
        s_options = options;
        StorageFaults.StartOver();
        DeviceReadFaults.StartOver();
        HeldDevice.StartOver();
        RefusedIndexRemovals.StartOver();
        var cluster = await RegistryClusterFixture.DeployAsync<Configurator>(s_prefix, b =>
        {
            b.Options.UseTestClusterMembership = false;
            b.AddClientBuilderConfigurator<ClientConfigurator>();
        });
        return new JobCluster(cluster, s_prefix);
    }

    /// <summary>Where the grain is active now, as the cluster's directory says.</summary>
    public async Task<SiloAddress> SiloOfAsync(IAddressable grain) =>
        await Grains.GetGrain<IManagementGrain>(0).GetActivationAddress(grain)
        ?? throw new InvalidOperationException("the grain is not active");

    /// <summary>The rows of the Azure reminder table named <paramref name="reminderName"/>, as (grain reference) strings.</summary>
    /// <summary>
    /// Returns once no row of <paramref name="reminderName"/> is left. A job removes its resume reminder just after it
    /// has stored its end (a crash in between must leave the reminder to resume it), so a test that saw the end can look a
    /// moment too early: a full run read the row of a completed export (2026-12-01). The test's own timeout bounds the wait.
    /// </summary>
    public async Task UntilNoReminderRowsAsync(string reminderName, CancellationToken ct)
    {
        while ((await ReminderRowsAsync(reminderName)).Length > 0)
        {
            await Task.Delay(100, ct);
        }
    }

    public async Task<string[]> ReminderRowsAsync(string reminderName)
    {
        var table = new TableClient(s_connectionString, Prefix + "Reminders");
        var rows = new List<string>();
        await foreach (var row in table.QueryAsync<TableEntity>(filter: $"ReminderName eq '{reminderName}'"))
        {
            rows.Add(row.GetString("GrainReference") ?? "");
        }
        return [.. rows];
    }

    public async ValueTask DisposeAsync()
    {
        s_probe.Release();
        HeldDevice.Release();
        if (Cluster is null)
        {
            return; // its start failed, and that failure is the one reported
        }
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
    }

    private static TableServiceClient Tables() => new(s_connectionString);

    private sealed class Configurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder silo)
        {
            silo.UseAzureStorageClustering(o =>
            {
                o.TableServiceClient = Tables();
                o.TableName = s_prefix + "Cluster";
            });
            var probe = s_probe;
            silo.Services.AddSingleton(sp => new SiloChunkGate(probe, sp.GetRequiredService<ILocalSiloDetails>().SiloAddress));
            silo.Services.AddSingleton<IImportChunkGate>(sp => sp.GetRequiredService<SiloChunkGate>());
            silo.AddIncomingGrainCallFilter(context => HeldDevice.Invoke(context));
            silo.Services.AddSingleton<IOutgoingGrainCallFilter>(new RefusedIndexRemovals.Filter(RefusedIndexRemovals));
            silo.Services.AddSingleton<IExportPartitionGate>(sp => sp.GetRequiredService<SiloChunkGate>());
            silo.Services.AddLogging(logging => logging.AddProvider(Logged).AddFilter<LoggedEvents>(null, LogLevel.Information));
            SiloConfiguration.ConfigureServices(silo, new RegistrySettings
            {
                IndexPartitions = s_partitions,
                DeviceStorage = s_deviceStorage,
                StorageConnectionString = s_connectionString,
                StoragePrefix = s_prefix,
                ServiceId = s_prefix,
                ClusterId = s_prefix,
                // These tests inject their storage failures themselves. The suite shares Azurite and two cores with the
                // process-level failure tests, and there one device creation of a test's setup once waited past the
                // default 5 s bound: a 503 the test was not about. A real timeout is tested in StorageTimeBoundTests.
                StorageTimeoutSeconds = 30,
            });
            silo.Services.Configure(s_options);
            // The job storage goes through the test's faults; it keeps taking part in the silo's lifecycle (table creation).
            var jobs = silo.Services.Last(d => d.ServiceType == typeof(IGrainStorage) && Equals(d.ServiceKey, StorageNames.Jobs));
            silo.Services.AddKeyedSingleton<IGrainStorage>(StorageNames.Jobs, (sp, key) =>
                new FaultyJobStorage((IGrainStorage)jobs.KeyedImplementationFactory!(sp, key), StorageFaults));
            var devices = silo.Services.Last(d => d.ServiceType == typeof(IGrainStorage) && Equals(d.ServiceKey, StorageNames.Registry));
            silo.Services.AddKeyedSingleton<IGrainStorage>(StorageNames.Registry, (sp, key) =>
                new FaultyDeviceStorage((IGrainStorage)devices.KeyedImplementationFactory!(sp, key), DeviceReadFaults));
        }
    }

    private sealed class ClientConfigurator : IClientBuilderConfigurator
    {
        public void Configure(IConfiguration configuration, IClientBuilder client) =>
            client.UseAzureStorageClustering(o =>
            {
                o.TableServiceClient = Tables();
                o.TableName = s_prefix + "Cluster";
            });
    }
}

/// <summary>
/// Holds every call to the device grain <see cref="Hold"/> names until <see cref="Release"/>: a test can stop a silo while
/// an import chunk's line is in flight, with lines before it finished and lines after it not started.
/// </summary>
public sealed class HeldDevice
{
    private volatile string? _deviceId;
    private TaskCompletionSource _arrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once a call to the held device has arrived (and is held).</summary>
    public Task Arrived => _arrived.Task;

    public void StartOver()
    {
        _released.TrySetResult();
        _deviceId = null;
        _onEnd = null;
        _arrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
        _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public void Hold(string deviceId) => _deviceId = deviceId;

    /// <summary>
    /// The value of <paramref name="condition"/> taken the moment the held call has ended (<see cref="Ended"/>), on the
    /// silo running it, before anything that call's end lets happen.
    /// </summary>
    public void OnEnd(Func<bool> condition) => _onEnd = condition;

    /// <summary>Completes once the held call has ended, with the value of the condition given to <see cref="OnEnd"/>.</summary>
    public Task<bool> Ended => _ended.Task;

    public void Release() => _released.TrySetResult();

    private Func<bool>? _onEnd;
    private TaskCompletionSource<bool> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal async Task Invoke(IIncomingGrainCallContext context)
    {
        if (_deviceId is { } held && context.Grain is Registry.Abstractions.IDeviceGrain && context.TargetId.Key.ToString() == held)
        {
            _arrived.TrySetResult();
            await _released.Task;
            try
            {
                await context.Invoke();
            }
            finally
            {
                _ended.TrySetResult(_onEnd?.Invoke() ?? true);
            }
            return;
        }
        await context.Invoke();
    }
}

/// <summary>
/// Refuses every call removing the named devices' index entries, until <see cref="StartOver"/>: a delete applied then
/// leaves its entry behind, as one applied while its silo stops does (the partition no longer placed there).
/// </summary>
public sealed class RefusedIndexRemovals
{
    private volatile bool _on;
    private volatile HashSet<string> _ids = [];

    public void On(IEnumerable<string> deviceIds)
    {
        _ids = deviceIds.ToHashSet(StringComparer.Ordinal);
        _on = true;
    }

    public void StartOver()
    {
        _on = false;
        _ids = [];
    }

    internal sealed class Filter(RefusedIndexRemovals refused) : IOutgoingGrainCallFilter
    {
        public Task Invoke(IOutgoingGrainCallContext context)
        {
            if (refused._on && context.Request.GetInterfaceType() == typeof(Registry.Abstractions.IDeviceIndexGrain) && context.MethodName == "Remove"
                && context.Request.GetArgument(0) is IReadOnlyList<string> ids && ids.Any(refused._ids.Contains))
            {
                throw new OrleansException("Test: this silo no longer places the index partition.");
            }
            return context.Invoke();
        }
    }
}

/// <summary>The log events of a test cluster's silos, by event id: a test waits for the next one a silo logs.</summary>
public sealed class LoggedEvents : ILoggerProvider
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, TaskCompletionSource> _waiting = new();

    /// <summary>Completes when an event <paramref name="eventId"/> is logged, by any silo, after this call.</summary>
    public Task Next(int eventId) => _waiting.GetOrAdd(eventId, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void Dispose()
    {
    }

    private sealed class Logger(LoggedEvents owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (owner._waiting.TryRemove(eventId.Id, out var waiting))
            {
                waiting.TrySetResult();
            }
        }
    }
}
