using System.Net;
using Azure.Data.Tables;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Registry.Abstractions;
using Registry.Grains.Heartbeats;
using Registry.Host;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Durability;

/// <summary>
/// The registry-wide heartbeat default of a durable cluster is the cluster's, kept in its storage, not each silo's
/// configuration (hostile review, 2026-12-07: a silo restarted without <c>Registry:Heartbeat</c> left the devices it
/// hosted unmonitored, their outages ended without an alert, for good).
/// </summary>
public sealed class ClusterHeartbeatDefaultTests(AzuriteFixture azurite)
{
    private static readonly HeartbeatPolicy Policy = new(60, 30);

    [Fact]
    public async Task A_registry_restarted_without_a_heartbeat_setting_keeps_monitoring_its_devices_under_the_clusters_default()
    {
        var prefix = "hbc" + Guid.NewGuid().ToString("N")[..8];
        var settings = azurite.DurableSettings(prefix);
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        const string id = "hbc-silent";
        var withDefault = new Dictionary<string, string?>(settings)
        {
            ["Registry:Heartbeat:IntervalSeconds"] = "60",
            ["Registry:Heartbeat:GraceSeconds"] = "30",
        };
        string dataFolder;
        await using (var first = await RegistryTestHost.StartAsync(withDefault, configure: b => b.Services.UseGrainClock(clock)))
        {
            dataFolder = first.DataFolder;
            using var http = first.CreateClient();
            await http.CreateDeviceAsync(id);
            var grains = first.Services.GetRequiredService<IGrainFactory>();
            await grains.GetGrain<IDeviceGrain>(id).Heartbeat();
            Assert.True(await Monitor(grains, id).IsWatching(id));
        }

        // The rolling restart that forgot the setting: this host holds every device grain now.
        await using var restarted = await RegistryTestHost.StartAsync(settings, dataFolder, configure: b => b.Services.UseGrainClock(clock));
        using var client = restarted.CreateClient();
        using var get = await client.GetAsync($"devices/{id}/heartbeat?{ApiVersion}");
        var heartbeat = (await get.ReadJsonAsync(HttpStatusCode.OK)).AsObject();
        Assert.Equal(("on", "registry", 60, 30), ((string?)heartbeat["monitoring"], (string?)heartbeat["source"], (int?)heartbeat["intervalSeconds"], (int?)heartbeat["graceSeconds"]));

        // Silent past interval plus grace since its grain activated here: missed, not dropped as unmonitored.
        var services = restarted.Services.GetRequiredService<IGrainFactory>();
        clock.Advance(Policy.Deadline + TimeSpan.FromSeconds(1));
        await Monitor(services, id).Check();
        Assert.True(await Monitor(services, id).IsWatching(id), "the partition dropped the device as unmonitored");
        Assert.NotNull(await Monitor(services, id).OutageOf(id));
    }

    [Fact]
    public async Task A_silo_without_the_setting_takes_the_stored_default_and_one_that_sets_it_replaces_it_for_the_running_silos_too()
    {
        var ct = TestContext.Current.CancellationToken;
        var table = new TableServiceClient(azurite.ConnectionString).GetTableClient("hbd" + Guid.NewGuid().ToString("N")[..8] + "Settings");
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);

        // The first start on fresh storage stores its own default.
        var first = await StartAsync(table, new HeartbeatSettings { IntervalSeconds = 60, GraceSeconds = 30 }, clock, ct);
        Assert.Equal(Policy, first.Options.DefaultPolicy);

        // A silo that sets none takes it, before it would join the cluster.
        var unset = await StartAsync(table, new HeartbeatSettings(), clock, ct);
        Assert.Equal(Policy, unset.Options.DefaultPolicy);
        Assert.Contains(unset.Logs.Lines, l => l.Text.Contains("Registry:Heartbeat is not set here: the cluster's heartbeat default (60 s interval + 30 s grace", StringComparison.Ordinal));

        // A start that sets monitoring off (0) makes that the cluster's: the running silos take it at their next read.
        var off = await StartAsync(table, new HeartbeatSettings { IntervalSeconds = 0 }, clock, ct);
        Assert.Null(off.Options.DefaultPolicy);
        Assert.Contains(off.Logs.Lines, l => l.Level == LogLevel.Warning
            && l.Text.Contains("Registry:Heartbeat here (off) replaces the cluster's heartbeat default (60 s interval + 30 s grace)", StringComparison.Ordinal));
        clock.Advance(TimeSpan.FromSeconds(30));
        await first.FirstTold.Task.WaitAsync(TimeSpan.FromSeconds(30), ct);
        await unset.FirstTold.Task.WaitAsync(TimeSpan.FromSeconds(30), ct);
        Assert.True(first.Logs.Changed.IsCompleted && unset.Logs.Changed.IsCompleted, "a silo that took the new default did not say so");
        Assert.Null(first.Options.DefaultPolicy);
        Assert.Null(unset.Options.DefaultPolicy);
        // Each running silo told the monitor partitions once it took the new default (a start tells none: its own
        // partitions activate with it, and the running silos tell every partition).
        Assert.Equal([null], first.Told);
        Assert.Equal([null], unset.Told);
        Assert.Empty(off.Told);

        // And a later silo without the setting starts with monitoring off, as stored.
        var later = await StartAsync(table, new HeartbeatSettings(), clock, ct);
        Assert.Null(later.Options.DefaultPolicy);

        foreach (var silo in new[] { first, unset, off, later })
        {
            await silo.Default.StopAsync(ct);
            silo.Default.Dispose();
        }
    }

    [Fact]
    public async Task A_stored_row_edited_into_no_policy_reads_as_monitoring_off()
    {
        var ct = TestContext.Current.CancellationToken;
        var table = new TableServiceClient(azurite.ConnectionString).GetTableClient("hbe" + Guid.NewGuid().ToString("N")[..8] + "Settings");
        await table.CreateIfNotExistsAsync(ct);
        await table.AddEntityAsync(new TableEntity(ClusterHeartbeatDefault.PartitionKey, ClusterHeartbeatDefault.RowKey)
        {
            ["IntervalSeconds"] = 999_999,
            ["GraceSeconds"] = 5,
        }, ct);

        var silo = await StartAsync(table, new HeartbeatSettings(), new FakeTimeProvider(), ct);

        Assert.Null(silo.Options.DefaultPolicy);
        await silo.Default.StopAsync(ct);
        silo.Default.Dispose();
    }

    private static IHeartbeatMonitorGrain Monitor(IGrainFactory grains, string id) =>
        grains.GetGrain<IHeartbeatMonitorGrain>(DevicePartitioner.PartitionOf(id, 16));

    private sealed record Silo(ClusterHeartbeatDefault Default, HeartbeatMonitorOptions Options, Logs Logs, List<HeartbeatPolicy?> Told, TaskCompletionSource FirstTold);

    /// <summary>One silo's start of the participant, with a default of its own configuration's until then.</summary>
    private static async Task<Silo> StartAsync(TableClient table, HeartbeatSettings configured, FakeTimeProvider clock, CancellationToken ct)
    {
        var options = new HeartbeatMonitorOptions { DefaultPolicy = configured.DefaultPolicy };
        var logs = new Logs();
        var told = new List<HeartbeatPolicy?>();
        var firstTold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var participant = new ClusterHeartbeatDefault(table, configured, options, new RegistrySettings { Heartbeat = configured }, clock,
            logs, stage: 0, changed: policy =>
            {
                lock (told)
                {
                    told.Add(policy);
                }
                firstTold.TrySetResult();
                return Task.CompletedTask;
            }, firstRetryPause: TimeSpan.Zero);
        await participant.StartAsync(ct);
        return new Silo(participant, options, logs, told, firstTold);
    }

    /// <summary>The participant's log lines; <see cref="Changed"/> completes at its first "changed" line (a refresh that took a new default).</summary>
    private sealed class Logs : ILogger<ClusterHeartbeatDefault>
    {
        private readonly TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly CapturedLogs _captured = new();
        private readonly ILogger _inner;

        public Logs() => _inner = _captured.CreateLogger(nameof(ClusterHeartbeatDefault));

        public IReadOnlyList<(LogLevel Level, string Category, string Text)> Lines => _captured.Lines;

        public Task Changed => _changed.Task;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            _inner.Log(logLevel, eventId, state, exception, formatter);
            if (eventId.Id == 4029)
            {
                _changed.TrySetResult();
            }
        }
    }
}
