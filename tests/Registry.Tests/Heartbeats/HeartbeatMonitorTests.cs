using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Core.Internal;
using Orleans.TestingHost;
using Registry.Abstractions;
using Registry.Grains.Heartbeats;
using Registry.Grains.Jobs;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Heartbeats;

/// <summary>
/// Invariant 5 on a controlled clock: a device silent past its interval plus grace is announced once per outage, recovers
/// once, and a device that beats in time never is. The registry default here is 60 s + 30 s grace
/// (<see cref="HeartbeatClusterFixture"/>); each test moves the shared clock and then runs the partition's check, as its
/// timer would, so every assertion follows a check that has completed.
/// </summary>
public sealed class HeartbeatMonitorTests(HeartbeatClusterFixture fixture) : IClassFixture<HeartbeatClusterFixture>
{
    private static readonly TimeSpan Deadline = HeartbeatClusterFixture.DefaultPolicy.Deadline;
    private static readonly TimeSpan Second = TimeSpan.FromSeconds(1);
    private static CapturingEventSink Events => HeartbeatClusterFixture.Events;

    /// <summary>One heartbeat, and the device's status read afterwards (which waits for the join the heartbeat started).</summary>
    private async Task<DeviceHeartbeat> BeatAsync(string id)
    {
        Assert.Equal(DeviceAccess.Granted, await fixture.Device(id).Heartbeat());
        return await fixture.Heartbeat(id).GetHeartbeat();
    }

    [Fact]
    public async Task A_device_silent_past_interval_and_grace_raises_heartbeatMissed_exactly_once()
    {
        var id = await fixture.NewDeviceAsync("missed");
        await BeatAsync(id);

        await fixture.AdvanceAndCheckAsync(id, Deadline + Second);
        Assert.Equal([RegistryEventTypes.HeartbeatMissed], Events.OpTypes(id));

        // Still silent, deadline after deadline: the same outage, no second alert.
        for (var i = 0; i < 3; i++)
        {
            await fixture.AdvanceAndCheckAsync(id, Deadline + Second);
        }
        Assert.Equal([RegistryEventTypes.HeartbeatMissed], Events.OpTypes(id));
        Assert.NotNull((await fixture.Heartbeat(id).GetHeartbeat()).OutageSince);
    }

    /// <summary>
    /// Hostile review, 2026-12-06: a device that connected over MQTT and never sent a message was not watched (a ping is
    /// activity, not a heartbeat), so when it died no alert came. A connect now starts the deadline.
    /// </summary>
    [Fact]
    public async Task A_device_that_connects_and_never_sends_a_message_is_missed_interval_and_grace_after_its_connect()
    {
        var id = await fixture.NewDeviceAsync("connect-only");
        var connectedAt = HeartbeatClusterFixture.Clock.GetUtcNow().UtcDateTime;
        Assert.Equal(DeviceAccess.Granted, await fixture.Device(id).Connect(new DeviceSession(Guid.NewGuid(), null, null)));
        var status = await fixture.Heartbeat(id).GetHeartbeat(); // waits for the arm the connect started
        Assert.True(status.Watched);
        Assert.Null(status.LastHeartbeatTime);

        await fixture.AdvanceAndCheckAsync(id, Deadline - Second);
        Assert.Empty(Events.OpTypes(id));
        await fixture.AdvanceAndCheckAsync(id, 2 * Second);

        Assert.Equal([RegistryEventTypes.HeartbeatMissed], Events.OpTypes(id));
        Assert.Equal(connectedAt + Deadline, (await fixture.Heartbeat(id).GetHeartbeat()).OutageSince);
    }

    /// <summary>
    /// A connect is no heartbeat: a device in an outage whose grain is activated anew by its connect recovers at its first
    /// message, sent at once after the connect (while the connect's arm may still be in flight), not a deadline later.
    /// </summary>
    [Fact]
    public async Task A_device_in_an_outage_recovers_at_the_first_message_after_its_connect_and_not_at_the_connect()
    {
        var id = await fixture.NewDeviceAsync("connect-recover");
        await BeatAsync(id);
        await fixture.AdvanceAndCheckAsync(id, Deadline + Second);
        Assert.Equal([RegistryEventTypes.HeartbeatMissed], Events.OpTypes(id));
        await fixture.Device(id).AsReference<IGrainManagementExtension>().DeactivateOnIdle();

        var session = Guid.NewGuid();
        Assert.Equal(DeviceAccess.Granted, await fixture.Device(id).Connect(new DeviceSession(session, null, null)));
        Assert.NotNull(await fixture.Monitor(id).OutageOf(id));
        Assert.Equal(DeviceAccess.Granted, await fixture.Device(id).Heartbeat());
        await fixture.Heartbeat(id).GetHeartbeat(); // waits for the arm and the join behind it

        Assert.Equal([RegistryEventTypes.HeartbeatMissed, RegistryEventTypes.HeartbeatRecovered], Events.OpTypes(id));
        Assert.Null(await fixture.Monitor(id).OutageOf(id));
    }

    [Fact(Timeout = 60_000)]
    public async Task The_partition_timer_runs_on_the_grain_clock_and_announces_without_being_asked()
    {
        var id = await fixture.NewDeviceAsync("timer");
        await BeatAsync(id);

        // Orleans drives grain timers from the silo's TimeProvider: moving the fake clock past the deadline fires the
        // partition's timer, whose check announces the outage; nothing here calls the check.
        HeartbeatClusterFixture.Clock.Advance(Deadline + Second);
        await Events.Published(id, RegistryEventTypes.HeartbeatMissed).WaitAsync(TestContext.Current.CancellationToken);

        Assert.Equal([RegistryEventTypes.HeartbeatMissed], Events.OpTypes(id));
    }

    [Fact]
    public async Task A_device_that_beats_within_interval_plus_grace_raises_nothing()
    {
        var id = await fixture.NewDeviceAsync("steady");
        await BeatAsync(id);
        for (var i = 0; i < 5; i++)
        {
            // Each beat comes just before the deadline of the one before it.
            await fixture.AdvanceAndCheckAsync(id, Deadline - Second);
            await BeatAsync(id);
        }
        await fixture.AdvanceAndCheckAsync(id, Deadline - Second);

        Assert.Empty(Events.OpTypes(id));
        Assert.Null((await fixture.Heartbeat(id).GetHeartbeat()).OutageSince);
    }

    /// <summary>
    /// Hostile re-check, 2026-12-04: a device under the registry default that had not beaten since its grain activated
    /// answered <c>monitoring: on</c> for minutes of silence and was never missed (monitoring starts with a heartbeat); the
    /// status now says whether the monitor times it.
    /// </summary>
    [Fact]
    public async Task The_status_says_whether_the_monitor_times_the_device_a_policy_in_effect_waits_for_a_heartbeat()
    {
        var id = await fixture.NewDeviceAsync("watched");
        var waiting = await fixture.Heartbeat(id).GetHeartbeat();
        Assert.Equal((true, false), (waiting.Monitored, waiting.Watched));

        await BeatAsync(id);
        var timed = await fixture.Heartbeat(id).GetHeartbeat();
        Assert.Equal((true, true), (timed.Monitored, timed.Watched));

        await fixture.AdvanceAndCheckAsync(id, Deadline + Second);
        var missed = await fixture.Heartbeat(id).GetHeartbeat();
        Assert.Equal((true, true), (missed.Watched, missed.OutageSince is not null));

        var off = await fixture.Heartbeat(id).SetHeartbeat(HeartbeatOverride.Off);
        Assert.Equal((false, false), (off.Monitored, off.Watched));
    }

    [Fact]
    public async Task Heartbeats_reach_the_monitor_only_on_transitions_the_join_and_the_recovery()
    {
        var id = await fixture.NewDeviceAsync("hotpath");
        for (var i = 0; i < 20; i++)
        {
            await BeatAsync(id);
        }
        Assert.Equal(1, HeartbeatClusterFixture.MonitorCalls.GetValueOrDefault(("Watch", id)));

        await fixture.AdvanceAndCheckAsync(id, Deadline + Second);
        for (var i = 0; i < 20; i++)
        {
            await BeatAsync(id);
        }
        Assert.Equal(2, HeartbeatClusterFixture.MonitorCalls.GetValueOrDefault(("Watch", id)));
        Assert.Equal([RegistryEventTypes.HeartbeatMissed, RegistryEventTypes.HeartbeatRecovered], Events.OpTypes(id));
    }

    [Fact]
    public async Task The_first_heartbeat_after_an_outage_raises_heartbeatRecovered_exactly_once_and_a_new_silence_is_a_new_outage()
    {
        var id = await fixture.NewDeviceAsync("recover");
        await BeatAsync(id);
        await fixture.AdvanceAndCheckAsync(id, Deadline + Second);

        var status = await BeatAsync(id);
        Assert.Null(status.OutageSince);
        await BeatAsync(id);
        await fixture.AdvanceAndCheckAsync(id, Deadline - Second);
        Assert.Equal([RegistryEventTypes.HeartbeatMissed, RegistryEventTypes.HeartbeatRecovered], Events.OpTypes(id));

        await fixture.AdvanceAndCheckAsync(id, Deadline);
        Assert.Equal(
            [RegistryEventTypes.HeartbeatMissed, RegistryEventTypes.HeartbeatRecovered, RegistryEventTypes.HeartbeatMissed],
            Events.OpTypes(id));
    }

    [Fact]
    public async Task An_alert_carries_the_notification_properties_and_the_outage_in_its_body()
    {
        var id = await fixture.NewDeviceAsync("shape");
        var beat = (await BeatAsync(id)).LastHeartbeatTime!.Value;
        await fixture.AdvanceAndCheckAsync(id, Deadline + Second);
        await BeatAsync(id);

        var (missed, recovered) = (Events.Of(id)[0], Events.Of(id)[1]);
        Assert.Equal(RegistryEventSources.HeartbeatAlerts, missed.Source);
        Assert.Equal(RegistryEventSources.HeartbeatAlerts, missed.SystemProperties["iothub-message-source"]);
        Assert.Equal("application/json", missed.SystemProperties["content-type"]);
        Assert.Equal(id, missed.SystemProperties["iothub-connection-device-id"]);
        Assert.Equal(RegistryEventTypes.HeartbeatMissed, missed.ApplicationProperties["opType"]);
        Assert.Equal(id, missed.ApplicationProperties["deviceId"]);
        Assert.Equal("heartbeatNotification", missed.ApplicationProperties["iothub-message-schema"]);
        Assert.False(string.IsNullOrEmpty(missed.ApplicationProperties["hubName"]));
        Assert.True(DateTime.TryParse(missed.ApplicationProperties["operationTimestamp"], out _));

        var body = JsonNode.Parse(missed.Body)!;
        Assert.Equal(60, (int)body["intervalSeconds"]!);
        Assert.Equal(30, (int)body["graceSeconds"]!);
        Assert.Equal(beat, ((DateTime)body["lastHeartbeatTime"]!).ToUniversalTime());
        Assert.Equal(beat + Deadline, ((DateTime)body["outageStartTime"]!).ToUniversalTime());
        Assert.Null(body["recoveredTime"]);
        Assert.Equal(beat + Deadline, ((DateTime)JsonNode.Parse(recovered.Body)!["outageStartTime"]!).ToUniversalTime());
        Assert.NotNull(JsonNode.Parse(recovered.Body)!["recoveredTime"]);
    }

    [Fact]
    public async Task Without_a_route_nothing_is_published_but_the_outage_is_kept()
    {
        var id = await fixture.NewDeviceAsync("unrouted");
        await BeatAsync(id);
        Events.Routed = false;
        try
        {
            await fixture.AdvanceAndCheckAsync(id, Deadline + Second);
        }
        finally
        {
            Events.Routed = true;
        }
        Assert.Empty(Events.OpTypes(id));
        Assert.NotNull((await fixture.Heartbeat(id).GetHeartbeat()).OutageSince);
    }

    [Fact]
    public async Task Deleting_a_device_disarms_it()
    {
        var id = await fixture.NewDeviceAsync("deleted");
        await BeatAsync(id);
        Assert.True(await fixture.Monitor(id).IsWatching(id));

        await fixture.Device(id).Delete(ETagCondition.Any);
        // At once, not only when the partition next asks.
        Assert.False(await fixture.Monitor(id).IsWatching(id));
        await fixture.AdvanceAndCheckAsync(id, Deadline * 3);

        Assert.Empty(Events.OpTypes(id));
        Assert.False(await fixture.Monitor(id).IsWatching(id));
    }

    [Fact]
    public async Task Disabling_a_device_disarms_it_and_ends_its_outage_without_an_alert()
    {
        var id = await fixture.NewDeviceAsync("disabled");
        await BeatAsync(id);
        await fixture.AdvanceAndCheckAsync(id, Deadline + Second);

        await fixture.Device(id).Update(DeviceInputs.Sas(id, DeviceStatus.Disabled), ETagCondition.Any);
        Assert.False(await fixture.Monitor(id).IsWatching(id));
        await fixture.AdvanceAndCheckAsync(id, Deadline * 3);

        Assert.Equal([RegistryEventTypes.HeartbeatMissed], Events.OpTypes(id));
        var status = await fixture.Heartbeat(id).GetHeartbeat();
        Assert.False(status.Monitored);
        Assert.Null(status.OutageSince);
        Assert.DoesNotContain(id, (await fixture.Grains.GetGrain<IHeartbeatOutagesGrain>(0).List(1000, null)).Outages.Select(o => o.DeviceId));
    }

    [Fact]
    public async Task Re_enabling_a_device_with_a_policy_arms_it_again_at_once_and_its_silence_is_announced_once()
    {
        var id = await fixture.NewDeviceAsync("reenabled");
        await fixture.Heartbeat(id).SetHeartbeat(new HeartbeatOverride(new HeartbeatPolicy(2, 0)));
        await fixture.Device(id).Update(DeviceInputs.Sas(id, DeviceStatus.Disabled), ETagCondition.Any);
        await fixture.AdvanceAndCheckAsync(id, Second * 10);

        await fixture.Device(id).Update(DeviceInputs.Sas(id, DeviceStatus.Enabled), ETagCondition.Any);
        // At once, not at a heartbeat that a device which never comes back never sends.
        Assert.True(await fixture.Monitor(id).IsWatching(id));
        // The deadline runs a full interval plus grace from the re-enable, not from the policy's PUT.
        await fixture.AdvanceAndCheckAsync(id, Second);
        Assert.Empty(Events.OpTypes(id));
        await fixture.AdvanceAndCheckAsync(id, Second);
        Assert.Equal([RegistryEventTypes.HeartbeatMissed], Events.OpTypes(id));
        for (var i = 0; i < 3; i++)
        {
            await fixture.AdvanceAndCheckAsync(id, Second * 5);
        }
        Assert.Equal([RegistryEventTypes.HeartbeatMissed], Events.OpTypes(id));
    }

    [Fact]
    public async Task A_device_override_replaces_the_default_and_clearing_it_restores_the_default()
    {
        var id = await fixture.NewDeviceAsync("override");
        var etag = (await fixture.Device(id).Get())!.ETag;

        var set = await fixture.Heartbeat(id).SetHeartbeat(new HeartbeatOverride(new HeartbeatPolicy(10, 5)));
        Assert.Equal((new HeartbeatPolicy(10, 5), HeartbeatPolicySource.Device), (set.Policy, set.Source));
        // Armed by the policy itself, before any heartbeat: silent for 10 + 5 s is an outage.
        await fixture.AdvanceAndCheckAsync(id, TimeSpan.FromSeconds(14));
        Assert.Empty(Events.OpTypes(id));
        await fixture.AdvanceAndCheckAsync(id, TimeSpan.FromSeconds(2));
        Assert.Equal([RegistryEventTypes.HeartbeatMissed], Events.OpTypes(id));

        // Silent 16 s since it was armed, within the default's 60 + 30 s: under the policy now in effect the device is not
        // missed, so the outage ends quietly (nothing recovered: no heartbeat came), and the default's deadline runs.
        var cleared = await fixture.Heartbeat(id).SetHeartbeat(null);
        Assert.Equal((HeartbeatClusterFixture.DefaultPolicy, HeartbeatPolicySource.Registry), (cleared.Policy, cleared.Source));
        Assert.Null(cleared.OutageSince);
        await BeatAsync(id);
        await fixture.AdvanceAndCheckAsync(id, TimeSpan.FromSeconds(16));
        await fixture.AdvanceAndCheckAsync(id, Deadline - TimeSpan.FromSeconds(17));
        Assert.Equal([RegistryEventTypes.HeartbeatMissed], Events.OpTypes(id));
        await fixture.AdvanceAndCheckAsync(id, TimeSpan.FromSeconds(2));
        Assert.Equal([RegistryEventTypes.HeartbeatMissed, RegistryEventTypes.HeartbeatMissed], Events.OpTypes(id));

        // The setting lives beside the identity: its ETag never moved.
        Assert.Equal(etag, (await fixture.Device(id).Get())!.ETag);
    }

    [Fact]
    public async Task Monitoring_off_stops_alerts_for_that_device_whatever_the_default()
    {
        var id = await fixture.NewDeviceAsync("off");
        await BeatAsync(id);
        var off = await fixture.Heartbeat(id).SetHeartbeat(HeartbeatOverride.Off);
        Assert.Equal((null, HeartbeatPolicySource.Device), (off.Policy, off.Source));

        await BeatAsync(id);
        await fixture.AdvanceAndCheckAsync(id, Deadline * 3);
        Assert.Empty(Events.OpTypes(id));
    }

    [Fact]
    public async Task An_invalid_override_is_refused_and_changes_nothing()
    {
        var id = await fixture.NewDeviceAsync("invalid");
        await fixture.Heartbeat(id).SetHeartbeat(new HeartbeatOverride(new HeartbeatPolicy(10, 5)));

        var error = await Assert.ThrowsAsync<RegistryException>(() => fixture.Heartbeat(id).SetHeartbeat(new HeartbeatOverride(new HeartbeatPolicy(0, 5))));
        Assert.Equal(RegistryErrorCode.ArgumentInvalid, error.Code);
        Assert.Equal(new HeartbeatPolicy(10, 5), (await fixture.Heartbeat(id).GetHeartbeat()).Policy);
    }

    [Fact]
    public async Task A_device_grain_activated_anew_is_not_missed_until_a_full_deadline_since_its_activation()
    {
        var id = await fixture.NewDeviceAsync("reactivated");
        await BeatAsync(id);
        await fixture.AdvanceAndCheckAsync(id, Deadline - TimeSpan.FromSeconds(10));

        // The activation goes, and with it the heartbeat it held in memory (as after a crash of its silo).
        await fixture.Device(id).AsReference<IGrainManagementExtension>().DeactivateOnIdle();
        // Past the old deadline: the monitor asks, which activates the device afresh; its deadline starts there.
        await fixture.AdvanceAndCheckAsync(id, TimeSpan.FromSeconds(20));
        await fixture.AdvanceAndCheckAsync(id, Deadline - Second);
        Assert.Empty(Events.OpTypes(id));

        await fixture.AdvanceAndCheckAsync(id, Second * 2);
        Assert.Equal([RegistryEventTypes.HeartbeatMissed], Events.OpTypes(id));
    }

    /// <summary>
    /// Hostile review, 2026-12-04: with <c>Registry:DeviceIdleMinutes</c> shorter than interval plus grace, the device grain
    /// was collected as idle before its deadline; the monitor's question activated it anew, which measured a full deadline
    /// from then, so the alert came a whole deadline late, with that later time as the outage's start and no last
    /// heartbeat. Orleans' idle collection is run here at age zero between the heartbeat and the deadline.
    /// </summary>
    [Fact]
    public async Task A_device_grain_idle_before_its_deadline_is_not_collected_and_is_missed_on_time()
    {
        var id = await fixture.NewDeviceAsync("idle");
        var beat = (await BeatAsync(id)).LastHeartbeatTime;
        await fixture.AdvanceAndCheckAsync(id, Deadline - TimeSpan.FromSeconds(10));

        await fixture.Grains.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);
        await fixture.AdvanceAndCheckAsync(id, TimeSpan.FromSeconds(10));

        Assert.Equal([RegistryEventTypes.HeartbeatMissed], Events.OpTypes(id));
        var status = await fixture.Heartbeat(id).GetHeartbeat();
        Assert.Equal(beat, status.LastHeartbeatTime);
        Assert.Equal(beat + Deadline, status.OutageSince);
    }

    /// <summary>
    /// Hostile review, 2026-12-05: an import line touching a monitored device (here <c>createOrUpdate</c>) let the device
    /// grain go once applied, as an import lets every device go; the read that followed activated it anew, whose deadline
    /// ran a full interval plus grace from then. REST and bulk writes were on time.
    /// </summary>
    [Fact]
    public async Task An_import_line_touching_a_monitored_device_leaves_its_deadline_at_its_last_heartbeat()
    {
        var id = await fixture.NewDeviceAsync("imported");
        var beat = (await BeatAsync(id)).LastHeartbeatTime;
        await fixture.AdvanceAndCheckAsync(id, Deadline - TimeSpan.FromSeconds(10));

        var line = Encoding.UTF8.GetBytes($"{{\"id\":\"{id}\",\"importMode\":\"createOrUpdate\",\"statusReason\":\"imported\"}}\n");
        var result = await fixture.Grains.GetGrain<IBulkJobGrain>(0).ImportChunk(new ImportChunk("heartbeat-import", 0, line, Replay: false));
        Assert.Equal(1, result.Applied);
        Assert.Equal(beat, (await fixture.Heartbeat(id).GetHeartbeat()).LastHeartbeatTime);

        await fixture.AdvanceAndCheckAsync(id, TimeSpan.FromSeconds(10));
        Assert.Equal([RegistryEventTypes.HeartbeatMissed], Events.OpTypes(id));
        Assert.Equal(beat + Deadline, (await fixture.Heartbeat(id).GetHeartbeat()).OutageSince);
    }

    [Fact]
    public async Task A_device_grain_activated_anew_shows_the_last_heartbeat_its_earlier_activation_wrote()
    {
        var id = await fixture.NewDeviceAsync("restored");
        var beat = (await BeatAsync(id)).LastHeartbeatTime;
        Assert.NotNull(beat);

        await fixture.Device(id).AsReference<IGrainManagementExtension>().DeactivateOnIdle();

        Assert.Equal(beat, (await fixture.Heartbeat(id).GetHeartbeat()).LastHeartbeatTime);
    }

    /// <summary>
    /// Hostile review, 2026-12-04: a policy put during an outage under which the device is not silent (its last heartbeat
    /// within the new interval plus grace) left the outage listed until the next heartbeat, which then announced a recovery.
    /// </summary>
    [Fact]
    public async Task A_policy_put_during_an_outage_that_the_new_policy_does_not_bear_out_ends_it_quietly()
    {
        var id = await fixture.NewDeviceAsync("repolicy-longer");
        await BeatAsync(id);
        await fixture.AdvanceAndCheckAsync(id, Deadline + Second);
        Assert.NotNull((await fixture.Heartbeat(id).GetHeartbeat()).OutageSince);

        var status = await fixture.Heartbeat(id).SetHeartbeat(new HeartbeatOverride(new HeartbeatPolicy(3600, 0)));

        Assert.Null(status.OutageSince);
        Assert.Null(await fixture.Monitor(id).OutageOf(id));
        await BeatAsync(id);
        await fixture.AdvanceAndCheckAsync(id, Deadline + Second);
        Assert.Equal([RegistryEventTypes.HeartbeatMissed], Events.OpTypes(id)); // no recovery: nothing recovered
        Assert.True(await fixture.Monitor(id).IsWatching(id));
    }

    /// <summary>
    /// Re-check of the review's fix, 2026-12-04: after a restart the device grain is activated anew, and the policy put
    /// measured the silence from that activation, so an outage the new policy bears out (23.6 s silent against 5 s) ended
    /// quietly and was announced a second time one deadline later.
    /// </summary>
    [Fact]
    public async Task A_policy_put_to_a_device_grain_activated_anew_during_an_outage_measures_the_silence_from_its_last_heartbeat()
    {
        var id = await fixture.NewDeviceAsync("repolicy-anew");
        await BeatAsync(id);
        await fixture.AdvanceAndCheckAsync(id, Deadline + Second);
        var outage = (await fixture.Heartbeat(id).GetHeartbeat()).OutageSince;
        await fixture.Device(id).AsReference<IGrainManagementExtension>().DeactivateOnIdle();
        HeartbeatClusterFixture.Clock.Advance(TimeSpan.FromSeconds(5));

        var status = await fixture.Heartbeat(id).SetHeartbeat(new HeartbeatOverride(new HeartbeatPolicy(30, 0)));

        Assert.Equal(outage, status.OutageSince);
        await fixture.AdvanceAndCheckAsync(id, TimeSpan.FromSeconds(31));
        Assert.Equal([RegistryEventTypes.HeartbeatMissed], Events.OpTypes(id));
    }

    [Fact]
    public async Task A_policy_put_during_an_outage_that_the_new_policy_bears_out_keeps_it_without_a_second_alert()
    {
        var id = await fixture.NewDeviceAsync("repolicy-shorter");
        await BeatAsync(id);
        await fixture.AdvanceAndCheckAsync(id, Deadline + Second);
        var outage = (await fixture.Heartbeat(id).GetHeartbeat()).OutageSince;
        Assert.NotNull(outage);

        var status = await fixture.Heartbeat(id).SetHeartbeat(new HeartbeatOverride(new HeartbeatPolicy(30, 0)));

        Assert.Equal(outage, status.OutageSince);
        await fixture.AdvanceAndCheckAsync(id, TimeSpan.FromSeconds(31));
        Assert.Equal([RegistryEventTypes.HeartbeatMissed], Events.OpTypes(id));
        await BeatAsync(id);
        Assert.Equal([RegistryEventTypes.HeartbeatMissed, RegistryEventTypes.HeartbeatRecovered], Events.OpTypes(id));
    }

    /// <summary>
    /// Hostile review, 2026-12-04: after a restart that removed the registry default, <c>GET /devices/{id}/heartbeat</c>
    /// said monitoring off while <c>/heartbeat/outages</c> still listed the device for up to its old deadline. A partition
    /// activated anew asks its devices in an outage at its first check, before any time passes; the others it leaves a
    /// full deadline.
    /// </summary>
    [Fact]
    public async Task A_partition_activated_anew_asks_its_devices_in_an_outage_at_once_and_no_one_else()
    {
        // Two partitions: deactivating one partition twice may activate it in between, which asks its devices once more.
        var silent = await fixture.NewDeviceAsync("reloaded-out");
        var beating = await fixture.NewDeviceAsync("reloaded-in", id => PartitionOf(id) != PartitionOf(silent));
        await BeatAsync(silent);
        await fixture.AdvanceAndCheckAsync(silent, Deadline + Second);
        Assert.NotNull((await fixture.Heartbeat(silent).GetHeartbeat()).OutageSince);
        await BeatAsync(beating);
        await fixture.Monitor(beating).Check();
        var (silentProbes, beatingProbes) = (Probes(silent), Probes(beating));

        await fixture.Monitor(silent).AsReference<IGrainManagementExtension>().DeactivateOnIdle();
        await fixture.Monitor(beating).AsReference<IGrainManagementExtension>().DeactivateOnIdle();
        await fixture.Monitor(silent).Check();
        await fixture.Monitor(beating).Check();

        Assert.Equal(silentProbes + 1, Probes(silent));
        Assert.Equal(beatingProbes, Probes(beating));
        Assert.Equal([RegistryEventTypes.HeartbeatMissed], Events.OpTypes(silent)); // asked, not announced again
        Assert.NotNull(await fixture.Monitor(silent).OutageOf(silent));

        static int Probes(string id) => HeartbeatClusterFixture.MonitorCalls.GetValueOrDefault(("Probe", id));
        static int PartitionOf(string id) => DevicePartitioner.PartitionOf(id, RegistryClusterFixture.Partitions);
    }

    [Fact]
    public async Task The_outages_list_pages_by_cursor_through_every_device_in_an_outage()
    {
        var ids = new List<string>();
        for (var i = 0; i < 7; i++)
        {
            var id = await fixture.NewDeviceAsync("paged");
            await fixture.Heartbeat(id).SetHeartbeat(new HeartbeatOverride(new HeartbeatPolicy(5, 0)));
            ids.Add(id);
        }
        HeartbeatClusterFixture.Clock.Advance(TimeSpan.FromSeconds(6));
        foreach (var id in ids)
        {
            await fixture.Monitor(id).Check();
        }

        var seen = new List<string>();
        string? cursor = null;
        do
        {
            var page = await fixture.Grains.GetGrain<IHeartbeatOutagesGrain>(0).List(2, cursor);
            Assert.True(page.Outages.Count <= 2);
            seen.AddRange(page.Outages.Select(o => o.DeviceId));
            cursor = page.Continuation;
        }
        while (cursor is not null);

        Assert.Equal(seen.Count, seen.Distinct().Count());
        Assert.Subset(seen.ToHashSet(), ids.ToHashSet());
    }

    /// <summary>
    /// Runs <paramref name="during"/> with <paramref name="policy"/> in force as the registry default on every silo, as a
    /// durable silo's read of the cluster's puts it, then puts the fixture's default back.
    /// </summary>
    private async Task WithDefaultOnEverySiloAsync(HeartbeatPolicy? policy, Func<Task> during)
    {
        void Set(HeartbeatPolicy? value)
        {
            foreach (var silo in fixture.Cluster.Silos.Cast<InProcessSiloHandle>())
            {
                silo.SiloHost.Services.GetRequiredService<IOptions<HeartbeatMonitorOptions>>().Value.DefaultPolicy = value;
            }
        }
        Set(policy);
        try
        {
            await during();
        }
        finally
        {
            Set(HeartbeatClusterFixture.DefaultPolicy);
        }
    }

    /// <summary>Hostile review, 2026-12-07: a default lowered from 120 s to 10 s announced silent devices only at their old deadline.</summary>
    [Fact]
    public async Task A_default_lowered_on_the_running_silos_is_judged_at_once_and_not_at_the_old_deadline()
    {
        var id = await fixture.NewDeviceAsync("lowered");
        var beat = HeartbeatClusterFixture.Clock.GetUtcNow().UtcDateTime;
        await BeatAsync(id);
        var lowered = new HeartbeatPolicy(10, 0);
        await WithDefaultOnEverySiloAsync(lowered, async () =>
        {
            HeartbeatClusterFixture.Clock.Advance(TimeSpan.FromSeconds(11));

            await fixture.Monitor(id).DefaultChanged(lowered);
            await fixture.Monitor(id).Check();

            Assert.Equal([RegistryEventTypes.HeartbeatMissed], Events.OpTypes(id));
            Assert.Equal(beat + lowered.Deadline, await fixture.Monitor(id).OutageOf(id));
        });
    }

    /// <summary>Hostile review, 2026-12-07: with the default switched off, the outages list named its devices until their old deadline.</summary>
    [Fact]
    public async Task A_default_switched_off_on_the_running_silos_drops_its_devices_and_ends_their_outages_at_once_without_an_alert()
    {
        var id = await fixture.NewDeviceAsync("switched-off");
        await BeatAsync(id);
        await fixture.AdvanceAndCheckAsync(id, Deadline + Second);
        Assert.Equal([RegistryEventTypes.HeartbeatMissed], Events.OpTypes(id));
        await WithDefaultOnEverySiloAsync(null, async () =>
        {
            await fixture.Monitor(id).DefaultChanged(null);
            await fixture.Monitor(id).Check();

            Assert.False(await fixture.Monitor(id).IsWatching(id));
            Assert.Null(await fixture.Monitor(id).OutageOf(id));
            Assert.Equal([RegistryEventTypes.HeartbeatMissed], Events.OpTypes(id));
        });
    }

    /// <summary>
    /// Hostile review, 2026-12-07: a device dropped while the default was off believed itself still joined, so once the
    /// default was back it was never watched again, though it went on beating.
    /// </summary>
    [Fact]
    public async Task A_device_dropped_while_the_default_was_off_is_watched_again_from_its_next_heartbeat_once_the_default_is_back()
    {
        var id = await fixture.NewDeviceAsync("off-and-on");
        await BeatAsync(id);
        await WithDefaultOnEverySiloAsync(null, async () =>
        {
            await fixture.Monitor(id).DefaultChanged(null);
            await fixture.Monitor(id).Check();
            Assert.False(await fixture.Monitor(id).IsWatching(id));
        });

        var status = await BeatAsync(id);

        Assert.True(status.Watched);
        Assert.True(await fixture.Monitor(id).IsWatching(id));
        await fixture.AdvanceAndCheckAsync(id, Deadline + Second);
        Assert.Equal([RegistryEventTypes.HeartbeatMissed], Events.OpTypes(id));
    }
}
