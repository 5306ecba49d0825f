using System.Collections.Immutable;
using System.Net;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Data.Tables;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Registry.Abstractions;
using Registry.Grains.Events;
using Registry.Host;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Events;

/// <summary>
/// The lifecycle notifications a silo has raised and the event stream has not taken live in storage (the outbox), so a
/// silo killed or stopped with some still waiting does not lose them: another silo sends them once the cluster counts it
/// dead (README "Lifecycle notifications", "What is guaranteed"). Before 2026-12-07 they lived in the silo's memory only.
/// </summary>
public sealed class EventOutboxTests(AzuriteFixture azurite)
{
    /// <summary>The stream took the event at once: the write did not wait for its row, and the row goes once it landed.</summary>
    [Fact(Timeout = 30_000)]
    public async Task A_notification_the_stream_takes_is_answered_without_waiting_for_its_row_and_its_row_is_then_removed()
    {
        var ct = TestContext.Current.CancellationToken;
        var outbox = new HeldOutbox();
        var sink = new RecordingSink();
        using var pending = new PendingNotifications(sink, Options(), new FakeTimeProvider(), NullLogger<PendingNotifications>.Instance, outbox);

        await pending.Publish(Event("a"));

        Assert.Equal(["a"], sink.Sent);
        Assert.Empty(outbox.Removed);
        outbox.Land();
        await outbox.RemovedCount(1).WaitAsync(ct);
        Assert.Equal(["a"], outbox.Removed);
    }

    /// <summary>
    /// A row whose store failed as far as the silo knows (a timeout) may have landed all the same: it is removed once the
    /// stream takes the event. Before, it stayed, and was sent again as a duplicate once its silo was gone (a review saw 8
    /// after a restart, 2026-12-07).
    /// </summary>
    [Fact(Timeout = 30_000)]
    public async Task A_row_whose_store_failed_is_removed_all_the_same_once_the_stream_takes_its_event()
    {
        var ct = TestContext.Current.CancellationToken;
        var outbox = new HeldOutbox();
        var sink = new RecordingSink();
        using var pending = new PendingNotifications(sink, Options(), new FakeTimeProvider(), NullLogger<PendingNotifications>.Instance, outbox);

        await pending.Publish(Event("a"));
        outbox.Fail();

        await outbox.RemovedCount(1).WaitAsync(ct);
        Assert.Equal(["a"], outbox.Removed);
    }

    /// <summary>
    /// Refused by the stream, a notification's write is answered only once its row is in storage, so once answered it is
    /// in the stream or the outbox; its row goes when the stream takes it.
    /// </summary>
    [Fact(Timeout = 30_000)]
    public async Task A_refused_notification_is_answered_only_once_its_row_is_stored_and_its_row_goes_once_the_stream_takes_it()
    {
        var ct = TestContext.Current.CancellationToken;
        var clock = new FakeTimeProvider();
        var outbox = new HeldOutbox();
        var sink = new RecordingSink { Down = true };
        using var pending = new PendingNotifications(sink, Options(), clock, NullLogger<PendingNotifications>.Instance, outbox);

        var first = pending.Publish(Event("a"));
        var second = pending.Publish(Event("b"));
        await sink.Attempted.Task.WaitAsync(ct);
        Assert.False(first.IsCompleted, "answered before its notification was in the stream or the outbox");
        Assert.False(second.IsCompleted, "answered before its notification was in the stream or the outbox");

        outbox.Land();
        await Task.WhenAll(first, second).WaitAsync(ct);
        Assert.Empty(outbox.Removed);

        sink.Down = false;
        while (sink.Sent.Count < 2)
        {
            clock.Advance(TimeSpan.FromSeconds(1));
            await Task.Yield();
        }
        await outbox.RemovedCount(2).WaitAsync(ct);
        Assert.Equal(["a", "b"], sink.Sent);
        Assert.Equal(["a", "b"], outbox.Removed.Order(StringComparer.Ordinal));
    }

    /// <summary>A stop with notifications waiting leaves their rows for another silo and says so; before, each was logged lost (2200).</summary>
    [Fact(Timeout = 30_000)]
    public async Task A_silo_stopping_with_notifications_waiting_leaves_their_rows_and_logs_them_left_not_lost()
    {
        var ct = TestContext.Current.CancellationToken;
        var outbox = new HeldOutbox();
        outbox.Land();
        var sink = new RecordingSink { Down = true };
        var logs = new CapturedLogs();
        var logger = new TypedLogger<PendingNotifications>(logs.CreateLogger(typeof(PendingNotifications).FullName!));
        var pending = new PendingNotifications(sink, Options(), new FakeTimeProvider(), logger, outbox);
        await pending.Publish(Event("a"));
        await pending.Publish(Event("b"));

        pending.Dispose();

        await outbox.Stored.WaitAsync(ct);
        Assert.Empty(outbox.Removed);
        Assert.DoesNotContain(logs.Lines, l => l.Level == LogLevel.Error);
        // One line for all of them (a review's stop with 3,000 waiting logged 3,000).
        await Until(() => logs.Lines.Any(l => l.Text.Contains("stay in the outbox", StringComparison.Ordinal)), ct);
        var left = Assert.Single(logs.Lines, l => l.Text.Contains("stay in the outbox", StringComparison.Ordinal));
        Assert.Equal(LogLevel.Warning, left.Level);
        Assert.StartsWith("2 notifications", left.Text, StringComparison.Ordinal);
    }

    /// <summary>Against Azurite: rows read back in the order stored, each with its event; a silo's removals share transactions.</summary>
    [Fact(Timeout = 60_000)]
    public async Task A_silos_rows_read_back_in_the_order_stored_and_its_removals_share_transactions()
    {
        var ct = TestContext.Current.CancellationToken;
        var table = await NewTable(ct);
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var outbox = Outbox(table, Silo(1), clock);
        var events = Enumerable.Range(0, 150).Select(i => Event($"dev-{149 - i:D3}")).ToArray();
        var entries = new List<OutboxEntry>();
        foreach (var e in events)
        {
            clock.Advance(TimeSpan.FromMilliseconds(1));
            var write = outbox.Add(e);
            await write.Stored;
            entries.Add(write.Entry!);
        }

        var read = Assert.Single(await outbox.Read(ct));
        Assert.Equal(outbox.Owner, read.Owner);
        var parsed = read.Rows.Select(TableEventOutbox.Parse).ToArray();
        Assert.Equal(events.Select(e => e.DeviceId), parsed.Select(e => e!.DeviceId));
        Assert.Equal(events[0].Body, parsed[0]!.Body);
        Assert.Equal(events[0].SystemProperties, parsed[0]!.SystemProperties);
        Assert.Equal(events[0].ApplicationProperties, parsed[0]!.ApplicationProperties);
        Assert.Equal(events[0].OperationTimestamp, parsed[0]!.OperationTimestamp);

        foreach (var entry in entries)
        {
            outbox.Remove(entry);
        }
        await outbox.Removing.WaitAsync(ct);
        Assert.Empty(await outbox.Read(ct));
        Assert.Equal(150, outbox.Removed);
        Assert.True(outbox.RemovalRequests < 20, $"{outbox.RemovalRequests} requests removed 150 rows of one silo");
    }

    /// <summary>Rows added while an insert is in flight share the next transaction: a routed import pays ~1 request per 100 events, not one each.</summary>
    [Fact(Timeout = 60_000)]
    public async Task Rows_added_together_share_insert_transactions_and_each_caller_gets_its_own_row()
    {
        var ct = TestContext.Current.CancellationToken;
        var table = await NewTable(ct);
        var outbox = Outbox(table, Silo(1), new FakeTimeProvider(DateTimeOffset.UtcNow));
        var events = Enumerable.Range(0, 250).Select(i => Event($"together-{i:D3}")).ToArray();

        var writes = events.Select(e => outbox.Add(e)).ToArray();
        await Task.WhenAll(writes.Select(w => w.Stored)).WaitAsync(ct);
        var entries = writes.Select(w => w.Entry).ToArray();

        Assert.Equal(250, entries.Select(e => e!.RowKey).Distinct().Count());
        var rows = Assert.Single(await outbox.Read(ct)).Rows;
        Assert.Equal(entries.Select(e => e!.RowKey).Order(StringComparer.Ordinal), rows.Select(r => r.RowKey));
        Assert.Equal(events.Select(e => e.DeviceId).Order(StringComparer.Ordinal),
            rows.Select(r => TableEventOutbox.Parse(r)!.DeviceId).Order(StringComparer.Ordinal));
        Assert.Equal(250, outbox.Added);
        Assert.True(outbox.AdditionRequests <= 10, $"{outbox.AdditionRequests} requests stored 250 rows added together");
    }

    /// <summary>
    /// The sweep sends the rows of a silo the cluster counts dead, and the old rows of one it no longer lists, in the order
    /// stored, and removes them; a live silo's rows and the fresh rows of an unlisted one (a silo that just joined) stay.
    /// </summary>
    [Fact(Timeout = 60_000)]
    public async Task A_sweep_sends_and_removes_the_rows_of_gone_silos_in_order_and_leaves_those_of_live_and_newly_joined_ones()
    {
        var ct = TestContext.Current.CancellationToken;
        var table = await NewTable(ct);
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (self, dead, live, unlisted, joined) = (Silo(1), Silo(2), Silo(3), Silo(4), Silo(5));
        await Store(table, dead, clock, "dead-0", "dead-1", "dead-2");
        await Store(table, live, clock, "live-0");
        await Store(table, unlisted, clock, "unlisted-0");
        clock.Advance(TimeSpan.FromMinutes(3));
        await Store(table, joined, clock, "joined-0");
        await table.AddEntityAsync(new TableEntity(dead.ToParsableString(), "9999999999999999999-damaged") { ["Event"] = "{not json" }, ct);
        var sink = new RecordingSink();
        var membership = new FixedMembership((self, SiloStatus.Active), (dead, SiloStatus.Dead), (live, SiloStatus.Active));
        var sweeper = Sweeper(table, self, sink, membership, clock);

        Assert.Equal(4, await sweeper.SweepOnce(ct));

        Assert.Equal(["dead-0", "dead-1", "dead-2", "unlisted-0"], sink.Sent);
        var left = await Outbox(table, self, clock).Read(ct);
        Assert.Equal([live.ToParsableString(), joined.ToParsableString()], left.Select(s => s.Owner).Order(StringComparer.Ordinal));
    }

    /// <summary>
    /// Rows to verify (writes whose calls answered a storage timeout) are the sweeper's whatever their silo, once old
    /// enough: sent when storage shows the write landed, removed either way; a younger one waits.
    /// </summary>
    [Fact(Timeout = 60_000)]
    public async Task A_sweep_sends_a_row_to_verify_only_if_its_write_landed_and_removes_it_either_way()
    {
        var ct = TestContext.Current.CancellationToken;
        var table = await NewTable(ct);
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var self = Silo(1);
        var live = Outbox(table, Silo(2), clock);
        foreach (var (id, check) in new (string, string?)[]
        {
            ("created-landed", OutboxChecks.Present("g1")), ("created-not-landed", OutboxChecks.Present("g2")),
            ("deleted-landed", OutboxChecks.Absent("g3")), ("deleted-not-landed", OutboxChecks.Absent("g4")), ("waiting-for-the-stream", null),
        })
        {
            clock.Advance(TimeSpan.FromMilliseconds(1));
            await live.Add(Event(id), check).Stored;
        }
        clock.Advance(TimeSpan.FromMinutes(2));
        await live.Add(Event("too-young"), OutboxChecks.Present("g5")).Stored;
        var membership = new FixedMembership((self, SiloStatus.Active), (Silo(2), SiloStatus.Active));
        var stored = new Generations(("created-landed", "g1"), ("created-not-landed", "other"), ("deleted-not-landed", "g4"), ("too-young", "g5"));
        var sink = new RecordingSink();

        Assert.Equal(2, await Sweeper(table, self, sink, membership, clock, stored).SweepOnce(ct));

        Assert.Equal(["created-landed", "deleted-landed"], sink.Sent);
        var left = Assert.Single(await live.Read(ct)).Rows.Select(r => TableEventOutbox.Parse(r)!.DeviceId);
        Assert.Equal(["waiting-for-the-stream", "too-young"], left);
    }

    /// <summary>
    /// A write's intent row (stored before each routed create's or delete's write) is its silo's while that silo lives,
    /// until it has outlived every way that silo had to remove it (an insert that timed out and landed after its removal);
    /// once the silo is gone, or the row is that old, the sweep sends it only if storage shows the write landed (the silo
    /// died after the write, before the stream took the event) and removes it either way.
    /// </summary>
    [Fact(Timeout = 60_000)]
    public async Task A_sweep_sends_the_intent_rows_of_gone_silos_and_the_orphaned_ones_of_live_silos_whose_writes_landed()
    {
        var ct = TestContext.Current.CancellationToken;
        var table = await NewTable(ct);
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (self, dead, live) = (Silo(1), Silo(2), Silo(3));
        await Outbox(table, live, clock).Add(Event("live-orphan-landed"), OutboxChecks.Intent(OutboxChecks.Present("g5"))).Stored;
        clock.Advance(Options().Value.PublishRetryWindow);
        foreach (var (silo, id, check) in new[]
        {
            (dead, "created-landed", OutboxChecks.Present("g1")), (dead, "created-not-landed", OutboxChecks.Present("g2")),
            (dead, "deleted-landed", OutboxChecks.Absent("g3")), (live, "live-created-landed", OutboxChecks.Present("g4")),
        })
        {
            clock.Advance(TimeSpan.FromMilliseconds(1));
            await Outbox(table, silo, clock).Add(Event(id), OutboxChecks.Intent(check)).Stored;
        }
        clock.Advance(Options().Value.OutboxVerifyAge);
        var membership = new FixedMembership((self, SiloStatus.Active), (dead, SiloStatus.Dead), (live, SiloStatus.Active));
        var stored = new Generations(("created-landed", "g1"), ("live-created-landed", "g4"), ("live-orphan-landed", "g5"));
        var sink = new RecordingSink();

        Assert.Equal(3, await Sweeper(table, self, sink, membership, clock, stored).SweepOnce(ct));

        Assert.Equal(["created-landed", "deleted-landed", "live-orphan-landed"], sink.Sent);
        var left = Assert.Single(await Outbox(table, self, clock).Read(ct));
        Assert.Equal(live.ToParsableString(), left.Owner);
        Assert.Equal(["live-created-landed"], left.Rows.Select(r => TableEventOutbox.Parse(r)!.DeviceId));
    }

    /// <summary>
    /// A sweep whose removal of the rows it sent fails (storage gone mid-sweep) still says what it sent before it ends in
    /// that failure: a review counted 791 rows sent with no line (2026-12-07).
    /// </summary>
    [Fact(Timeout = 60_000)]
    public async Task A_sweep_whose_removal_fails_still_logs_the_rows_it_sent()
    {
        var ct = TestContext.Current.CancellationToken;
        var table = await NewTable(ct);
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (self, dead) = (Silo(1), Silo(2));
        await Store(table, dead, clock, "dead-0", "dead-1");
        var sink = new RecordingSink();
        var options = new TableClientOptions();
        options.AddPolicy(new RefuseRemovals(), HttpPipelinePosition.PerCall);
        var refusing = new TableServiceClient(azurite.ConnectionString, options).GetTableClient(table.Name);
        var logs = new CapturedLogs();
        var sweeper = new OutboxSweeper(Outbox(refusing, self, clock), new Generations(), sink,
            new FixedMembership((self, SiloStatus.Active), (dead, SiloStatus.Dead)), new LocalSilo(self), Options(), clock,
            new TypedLogger<OutboxSweeper>(logs.CreateLogger(typeof(OutboxSweeper).FullName!)));

        await Assert.ThrowsAnyAsync<Exception>(() => sweeper.SweepOnce(ct));

        Assert.Equal(["dead-0", "dead-1"], sink.Sent);
        Assert.Contains(logs.Lines, l => l.Text.StartsWith("Sent 2 lifecycle notifications", StringComparison.Ordinal));
    }

    /// <summary>Only the lowest active silo sweeps; a refused publish leaves that row and those after it for the next sweep, in order.</summary>
    [Fact(Timeout = 60_000)]
    public async Task Only_the_lowest_active_silo_sweeps_and_a_refused_publish_leaves_the_rest_for_the_next_sweep_in_order()
    {
        var ct = TestContext.Current.CancellationToken;
        var table = await NewTable(ct);
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (low, high, dead) = (Silo(1), Silo(2), Silo(3));
        await Store(table, dead, clock, "d-0", "d-1", "d-2");
        var membership = new FixedMembership((low, SiloStatus.Active), (high, SiloStatus.Active), (dead, SiloStatus.Dead));
        var sink = new RecordingSink { RefuseAfter = 1 };

        Assert.Equal(0, await Sweeper(table, high, sink, membership, clock).SweepOnce(ct));
        Assert.Empty(sink.Sent);

        var logs = new CapturedLogs();
        var sweeper = new OutboxSweeper(Outbox(table, low, clock), new Generations(), sink, membership, new LocalSilo(low), Options(), clock,
            new TypedLogger<OutboxSweeper>(logs.CreateLogger(typeof(OutboxSweeper).FullName!)));
        Assert.Equal(1, await sweeper.SweepOnce(ct));
        Assert.Equal(["d-0"], sink.Sent);
        // One line, no stack (a review counted 162-line stacks at every sweep while the stream was away, 2026-12-07).
        var refused = Assert.Single(logs.Lines, l => l.Text.Contains("wait for the next sweep", StringComparison.Ordinal));
        Assert.Equal("A notification silo " + dead.ToParsableString() + " left in the outbox could not be sent (InvalidOperationException: the stream refuses); its 2 rows left wait for the next sweep", refused.Text);
        sink.RefuseAfter = int.MaxValue;
        Assert.Equal(2, await Sweeper(table, low, sink, membership, clock).SweepOnce(ct));
        Assert.Equal(["d-0", "d-1", "d-2"], sink.Sent);
        Assert.Empty(await Outbox(table, low, clock).Read(ct));
    }

    /// <summary>
    /// End to end on a durable routed registry (real Azurite, real membership): the rows a killed silo left (an incarnation
    /// the cluster does not list) reach a client app's subscription, and a routed create's own row is removed once the
    /// stream took its event.
    /// </summary>
    [Fact(Timeout = 120_000)]
    public async Task Notifications_a_gone_silo_left_in_the_outbox_reach_a_subscriber_and_a_routed_creates_row_is_removed()
    {
        var ct = TestContext.Current.CancellationToken;
        var prefix = "ob" + Guid.NewGuid().ToString("N")[..8];
        var settings = new Dictionary<string, string?>(RoutedHostFixture.Routes)
        {
            ["Registry:StorageConnectionString"] = azurite.ConnectionString,
            ["Registry:StoragePrefix"] = prefix,
            ["Registry:OutboxSweepSeconds"] = "1",
        };
        await using var host = await RegistryTestHost.StartAsync(settings);
        var cluster = host.Services.GetRequiredService<IClusterClient>();
        await using var recorder = await EventRecorder.SubscribeAsync(cluster, RegistryEventSources.DeviceLifecycle);
        var outbox = host.Services.GetRequiredService<TableEventOutbox>();
        var table = outbox.Table;
        var gone = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 1), 1);
        var ids = new[] { DeviceInputs.NewId("left-0"), DeviceInputs.NewId("left-1") };
        await Store(table, gone, new FakeTimeProvider(DateTimeOffset.UtcNow - TimeSpan.FromMinutes(5)), ids);

        var deadline = DateTime.UtcNow.AddSeconds(60);
        while ((await outbox.Read(ct)).Any(s => s.Owner == gone.ToParsableString()) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100, ct);
        }
        var seen = await recorder.UntilBarrierAsync(ids, ct);
        // Each once; the two devices' events may take different streams, so in either order.
        Assert.Equal(ids.Order(StringComparer.Ordinal), seen.Select(e => e.DeviceId).Order(StringComparer.Ordinal));

        using var http = host.CreateClient();
        var removedBefore = outbox.Removed;
        var created = DeviceInputs.NewId("routed");
        await http.CreateDeviceAsync(created);
        Assert.Equal([RegistryEventTypes.CreateDeviceIdentity], (await recorder.UntilBarrierAsync([created], ct)).Select(e => e.OpType));
        // Its row lands beside the publish and goes after it, in the background: wait for that, bounded.
        deadline = DateTime.UtcNow.AddSeconds(30);
        while (outbox.Removed == removedBefore && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50, ct);
        }
        await outbox.Removing.WaitAsync(ct);
        Assert.Equal(removedBefore + 1, outbox.Removed);
        Assert.Empty(await outbox.Read(ct));
    }

    /// <summary>
    /// The case the outbox exists for, on a durable registry (real Azurite): its queue storage unreachable, so the stream
    /// refuses every notification; the silo stops with them waiting. Before 2026-12-07 each was logged lost (2200) and
    /// never sent; now the next start of the registry sends them, each device's in order, to a client app's subscription.
    /// </summary>
    [Fact(Timeout = 180_000)]
    public async Task Notifications_waiting_when_the_silo_stopped_are_sent_in_order_by_the_next_start_of_the_registry()
    {
        var ct = TestContext.Current.CancellationToken;
        var prefix = "obr" + Guid.NewGuid().ToString("N")[..8];
        var id = Guid.NewGuid().ToString("N")[..12];
        var dataFolder = Directory.CreateTempSubdirectory("registry-test-").FullName;
        RegistryTestHost.SeedCertificates(dataFolder);
        var nothing = FreePorts.Take(1)[0];
        var noQueues = $"DefaultEndpointsProtocol=http;AccountName={AzuriteServer.AccountName};AccountKey={AzuriteServer.AccountKey};" +
            $"BlobEndpoint={azurite.Server.BlobEndpoint};TableEndpoint={azurite.Server.TableEndpoint};" +
            $"QueueEndpoint=http://127.0.0.1:{nothing}/{AzuriteServer.AccountName};";
        Dictionary<string, string?> Settings(string connectionString) => new(RoutedHostFixture.Routes)
        {
            ["Registry:StorageConnectionString"] = connectionString,
            ["Registry:StoragePrefix"] = prefix,
            ["Registry:ClusterId"] = $"test-{id}",
            ["Registry:ServiceId"] = $"test-{id}",
            // The sweep is the test's own call below, after its subscription is in place.
            ["Registry:OutboxSweepSeconds"] = "3600",
        };
        var (a, b) = (DeviceInputs.NewId("stopped-a"), DeviceInputs.NewId("stopped-b"));

        var logs = new CapturedLogs();
        await using (var first = await RegistryTestHost.StartAsync(Settings(noQueues), dataFolder, builder => builder.Logging.AddProvider(logs)))
        {
            using var http = first.CreateClient();
            await http.CreateDeviceAsync(a);
            await http.CreateDeviceAsync(b);
            Assert.Equal(HttpStatusCode.NoContent, (await http.DeleteDeviceAsync(a)).StatusCode);
            Assert.Equal(3, first.Services.GetRequiredService<PendingNotifications>().Count);
        }
        Assert.DoesNotContain(logs.Lines, l => l.Category == typeof(PendingNotifications).FullName && l.Level == LogLevel.Error);
        var left = Assert.Single(logs.Lines, l => l.Category == typeof(PendingNotifications).FullName && l.Text.Contains("stay in the outbox", StringComparison.Ordinal));
        Assert.StartsWith("3 notifications", left.Text, StringComparison.Ordinal);

        await using var second = await RegistryTestHost.StartAsync(Settings(azurite.ConnectionString), dataFolder);
        await using var recorder = await EventRecorder.SubscribeAsync(second.Services.GetRequiredService<IClusterClient>(), RegistryEventSources.DeviceLifecycle);
        Assert.Equal(3, await second.Services.GetRequiredService<OutboxSweeper>().SweepOnce(ct));

        var seen = await recorder.UntilBarrierAsync([a, b], ct);
        // In order for each device (the two devices' events may take different streams, which interleave freely).
        Assert.Equal([RegistryEventTypes.CreateDeviceIdentity, RegistryEventTypes.DeleteDeviceIdentity], seen.Where(e => e.DeviceId == a).Select(e => e.OpType));
        Assert.Equal([RegistryEventTypes.CreateDeviceIdentity], seen.Where(e => e.DeviceId == b).Select(e => e.OpType));
        Assert.Empty(await second.Services.GetRequiredService<TableEventOutbox>().Read(ct));
    }

    private static async Task Store(TableClient table, SiloAddress silo, FakeTimeProvider clock, params string[] deviceIds)
    {
        var outbox = Outbox(table, silo, clock);
        foreach (var id in deviceIds)
        {
            clock.Advance(TimeSpan.FromMilliseconds(1));
            await outbox.Add(Event(id)).Stored;
        }
    }

    private static TableEventOutbox Outbox(TableClient table, SiloAddress silo, TimeProvider clock) =>
        new(table, silo.ToParsableString(), Bound, clock, NullLogger<TableEventOutbox>.Instance);

    private static OutboxSweeper Sweeper(TableClient table, SiloAddress self, IRegistryEventSink sink, IClusterMembershipService membership, TimeProvider clock,
        IStoredGeneration? stored = null) =>
        new(Outbox(table, self, clock), stored ?? new Generations(), sink, membership, new LocalSilo(self), Options(), clock, NullLogger<OutboxSweeper>.Instance);

    private sealed class Generations(params (string DeviceId, string Generation)[] stored) : IStoredGeneration
    {
        public Task<string?> Of(string deviceId) =>
            Task.FromResult(stored.Where(s => s.DeviceId == deviceId).Select(s => (string?)s.Generation).FirstOrDefault());
    }

    private static async Task Until(Func<bool> condition, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!condition() && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20, ct);
        }
    }

    private static readonly StorageTimeBound Bound = new(TimeSpan.FromSeconds(30), NullLogger<StorageTimeBound>.Instance);

    private async Task<TableClient> NewTable(CancellationToken ct)
    {
        var table = new TableServiceClient(azurite.ConnectionString).GetTableClient("ob" + Guid.NewGuid().ToString("N")[..12]);
        await table.CreateIfNotExistsAsync(ct);
        return table;
    }

    private static SiloAddress Silo(int n) => SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 11110 + n), 100 + n);

    private static IOptions<RegistryEventOptions> Options() => Microsoft.Extensions.Options.Options.Create(new RegistryEventOptions
    {
        RoutedSources = new HashSet<string> { RegistryEventSources.DeviceLifecycle },
        PublishRetryDelay = TimeSpan.FromSeconds(1),
    });

    private static RegistryEvent Event(string deviceId) =>
        LifecycleNotifications.Build("hub", RegistryEventTypes.CreateDeviceIdentity, deviceId, DateTime.UtcNow, DateTime.UtcNow);

    /// <summary>An outbox whose rows land when the test says.</summary>
    private sealed class HeldOutbox : IEventOutbox
    {
        private readonly TaskCompletionSource _land = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _stored = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Lock _gate = new();
        private readonly List<string> _removed = [];
        private TaskCompletionSource? _removedEnough;
        private int _removedWanted;

        public Task Stored => _stored.Task;

        public List<string> Removed
        {
            get
            {
                lock (_gate)
                {
                    return [.. _removed];
                }
            }
        }

        public void Land() => _land.TrySetResult();

        /// <summary>Every store ends as a storage timeout would: failed, as far as the caller knows.</summary>
        public void Fail() => _land.TrySetException(new TimeoutException("storage did not answer in time"));

        public OutboxWrite Add(RegistryEvent registryEvent, string? check = null) =>
            new(new OutboxEntry("silo", registryEvent.DeviceId), Stores());

        private async Task Stores()
        {
            try
            {
                await _land.Task;
            }
            finally
            {
                _stored.TrySetResult();
            }
        }

        public void Remove(OutboxEntry entry)
        {
            lock (_gate)
            {
                _removed.Add(entry.RowKey);
                if (_removedEnough is not null && _removed.Count >= _removedWanted)
                {
                    _removedEnough.TrySetResult();
                }
            }
        }

        public Task RemovedCount(int count)
        {
            lock (_gate)
            {
                if (_removed.Count >= count)
                {
                    return Task.CompletedTask;
                }
                _removedWanted = count;
                _removedEnough = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                return _removedEnough.Task;
            }
        }
    }

    /// <summary>Storage that reads and inserts but refuses every removal (a delete or a transaction), as one gone mid-sweep.</summary>
    private sealed class RefuseRemovals : HttpPipelineSynchronousPolicy
    {
        public override void OnSendingRequest(HttpMessage message)
        {
            if (message.Request.Method == RequestMethod.Delete || message.Request.Uri.Path.EndsWith("$batch", StringComparison.Ordinal))
            {
                throw new RequestFailedException(503, "Removals refused by the test.");
            }
        }
    }

    private sealed class RecordingSink : IRegistryEventSink
    {
        private readonly Lock _gate = new();
        private readonly List<string> _sent = [];

        public bool Down { get; set; }

        /// <summary>Refuses every publish once this many were taken.</summary>
        public int RefuseAfter { get; set; } = int.MaxValue;

        public TaskCompletionSource Attempted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public List<string> Sent
        {
            get
            {
                lock (_gate)
                {
                    return [.. _sent];
                }
            }
        }

        public bool IsRouted(string source) => true;

        public Task Publish(RegistryEvent registryEvent)
        {
            Attempted.TrySetResult();
            lock (_gate)
            {
                if (Down || _sent.Count >= RefuseAfter)
                {
                    return Task.FromException(new InvalidOperationException("the stream refuses"));
                }
                _sent.Add(registryEvent.DeviceId);
            }
            return Task.CompletedTask;
        }
    }

    private sealed class FixedMembership(params (SiloAddress Silo, SiloStatus Status)[] members) : IClusterMembershipService
    {
        public ClusterMembershipSnapshot CurrentSnapshot { get; } = new(
            members.ToImmutableDictionary(m => m.Silo, m => new ClusterMember(m.Silo, m.Status, m.Silo.ToString())), new MembershipVersion(1));

        public IAsyncEnumerable<ClusterMembershipSnapshot> MembershipUpdates => throw new NotSupportedException();

        public ValueTask Refresh(MembershipVersion minimumVersion = default, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

        public Task<bool> TryKill(SiloAddress siloAddress) => throw new NotSupportedException();
    }

    private sealed class LocalSilo(SiloAddress silo) : ILocalSiloDetails
    {
        public string Name => "test";
        public string ClusterId => "test";
        public string DnsHostName => "localhost";
        public SiloAddress SiloAddress => silo;
        public SiloAddress GatewayAddress => silo;
    }

    private sealed class TypedLogger<T>(ILogger inner) : ILogger<T>
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => inner.BeginScope(state);
        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            inner.Log(logLevel, eventId, state, exception, formatter);
    }
}
