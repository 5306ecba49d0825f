using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Streams;
using Registry.Abstractions;
using Registry.Client;
using Registry.Host;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Events;

/// <summary>
/// <c>GET /events/{source}</c> over the real host: server-sent events for HTTP consumers with the ServiceConnect right,
/// one <c>data:</c> line per notification, keep-alive comments, IoT Hub's routing errors for a source it cannot serve.
/// Also a client app on the grain interfaces, connected to the host's Orleans gateway port.
/// </summary>
public sealed class EventStreamHttpTests(RoutedHostFixture fixture) : IClassFixture<RoutedHostFixture>
{
    [Fact(Timeout = 60_000)]
    public async Task An_SSE_consumer_sees_each_create_and_delete_once_with_its_properties_and_twin_body()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var events = await EventStreamClient.OpenAsync(fixture.Client, "deviceLifecycleEvents", ct);
        var id = DeviceInputs.NewId("sse");

        await fixture.Client.CreateDeviceAsync(id);
        Assert.Equal(HttpStatusCode.NoContent, (await fixture.Client.DeleteDeviceAsync(id)).StatusCode);

        Assert.Equal("text/event-stream", events.Response.Content.Headers.ContentType?.MediaType);
        var seen = await events.UntilBarrierAsync(fixture.ClusterClient, RegistryEventSources.DeviceLifecycle, [id], ct);
        Assert.Equal(["createDeviceIdentity", "deleteDeviceIdentity"], seen.Select(e => (string?)e["applicationProperties"]!["opType"]));
        foreach (var e in seen)
        {
            var system = e["systemProperties"]!.AsObject();
            Assert.Equal("application/json", (string?)system["content-type"]);
            Assert.Equal("utf-8", (string?)system["content-encoding"]);
            Assert.Equal("deviceLifecycleEvents", (string?)system["iothub-message-source"]);
            Assert.Equal(id, (string?)system["iothub-connection-device-id"]);
            Assert.Equal("localhost", (string?)system["user-id"]);
            Assert.NotNull((string?)system["iothub-enqueuedtime"]);
            Assert.NotNull((string?)system["correlation-id"]);
            var application = e["applicationProperties"]!.AsObject();
            Assert.Equal("localhost", (string?)application["hubName"]);
            Assert.Equal(id, (string?)application["deviceId"]);
            Assert.Equal("deviceLifecycleNotification", (string?)application["iothub-message-schema"]);
            Assert.NotNull((string?)application["operationTimestamp"]);
            var body = e["body"]!.AsObject();
            Assert.Equal(id, (string?)body["deviceId"]);
            Assert.Equal(1, (int?)body["properties"]!["desired"]!["$version"]);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task A_bulk_create_of_n_devices_gives_an_SSE_consumer_n_create_events()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var events = await EventStreamClient.OpenAsync(fixture.Client, "DeviceLifecycleEvents", ct);
        var ids = Enumerable.Range(0, 12).Select(_ => DeviceInputs.NewId("sse-bulk")).ToArray();

        var bulk = await fixture.Client.BulkAsync(Json(ids.Select(id => new { id, importMode = "create" }).ToArray()));

        Assert.Equal(HttpStatusCode.OK, bulk.StatusCode);
        var seen = await events.UntilBarrierAsync(fixture.ClusterClient, RegistryEventSources.DeviceLifecycle, ids, ct);
        Assert.Equal(ids.Order(StringComparer.Ordinal), seen.Select(e => (string)e["applicationProperties"]!["deviceId"]!).Order(StringComparer.Ordinal));
        Assert.All(seen, e => Assert.Equal("createDeviceIdentity", (string?)e["applicationProperties"]!["opType"]));
    }

    [Fact(Timeout = 60_000)]
    public async Task A_heartbeat_alert_reaches_the_consumers_of_heartbeatEvents()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var events = await EventStreamClient.OpenAsync(fixture.Client, "heartbeatEvents", ct);
        var id = DeviceInputs.NewId("alert");
        var sink = fixture.Host.Services.GetRequiredService<Registry.Grains.Events.IRegistryEventSink>();

        await sink.Publish(LifecycleNotificationTests.HeartbeatAlert(id));

        var alert = Assert.Single(await events.UntilBarrierAsync(fixture.ClusterClient, RegistryEventSources.HeartbeatAlerts, [id], ct));
        Assert.Equal("heartbeatMissed", (string?)alert["applicationProperties"]!["opType"]);
        Assert.Equal(id, (string?)alert["body"]!["deviceId"]);
    }

    /// <summary>
    /// Hostile re-check, 2026-12-04: after a gateway was killed, its dead subscription kept the durable queue's messages,
    /// which came back to every live SSE consumer each visibility timeout for minutes: events raised before they
    /// subscribed, again and out of order. A consumer is now handed only events enqueued while it is subscribed, each once.
    /// </summary>
    [Fact(Timeout = 60_000)]
    public async Task An_SSE_consumer_is_not_handed_an_event_enqueued_before_it_subscribed_nor_one_twice()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var events = await EventStreamClient.OpenAsync(fixture.Client, "heartbeatEvents", ct);
        var (old, fresh) = (DeviceInputs.NewId("replayed"), DeviceInputs.NewId("fresh"));
        var sink = fixture.Host.Services.GetRequiredService<Registry.Grains.Events.IRegistryEventSink>();
        var now = DateTime.UtcNow;

        // What a redelivered queue message is: an alert enqueued a minute before the consumer subscribed.
        await sink.Publish(Enqueued(LifecycleNotificationTests.HeartbeatAlert(old), now.AddMinutes(-1), "c-old"));
        var live = Enqueued(LifecycleNotificationTests.HeartbeatAlert(fresh), now, "c-fresh");
        await sink.Publish(live);
        await sink.Publish(live); // the same message delivered again

        var received = await events.UntilBarrierAsync(fixture.ClusterClient, RegistryEventSources.HeartbeatAlerts, [old, fresh], ct);
        var only = Assert.Single(received);
        Assert.Equal("c-fresh", (string?)only["systemProperties"]!["correlation-id"]);
    }

    private static RegistryEvent Enqueued(RegistryEvent e, DateTime enqueuedAt, string correlationId) => e with
    {
        SystemProperties = new Dictionary<string, string>(e.SystemProperties)
        {
            ["iothub-enqueuedtime"] = enqueuedAt.ToString("o", System.Globalization.CultureInfo.InvariantCulture),
            ["correlation-id"] = correlationId,
        },
    };

    [Fact(Timeout = 60_000)]
    public async Task An_idle_event_stream_sends_keep_alive_comments()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var events = await EventStreamClient.OpenAsync(fixture.Client, "heartbeatEvents", ct);

        string line;
        do
        {
            line = await events.ReadLineAsync(ct);
        }
        while (line.Length == 0);

        Assert.Equal(": keep-alive", line);
    }

    /// <summary>
    /// Orleans drops a client's subscription, and tells the client nothing, when a delivery finds the client unreachable
    /// (its gateway silo died): a review saw SSE consumers get keep-alives and no events for minutes after a silo's
    /// <c>kill -9</c> (2026-12-06). Here the drop is the subscription's removal from the cluster's pub-sub. The stream now
    /// ends at its next keep-alive with a comment saying why, so the consumer reconnects; before, keep-alives came for good.
    /// </summary>
    [Fact(Timeout = 60_000)]
    public async Task A_stream_whose_subscription_the_cluster_dropped_ends_at_its_next_keep_alive_saying_so()
    {
        var ct = TestContext.Current.CancellationToken;
        // One of the source's streams: the others' subscriptions are still held, and the stream must end all the same.
        var stream = RegistryEventSubscription.StreamsOf(fixture.ClusterClient, RegistryEventSources.HeartbeatAlerts)[5];
        // The streams of the tests before have gone, their subscriptions with them (removed as they end, after their clients left).
        await fixture.Consumers.AllLeftAsync(ct);
        var before = (await stream.GetAllSubscriptionHandles()).Select(h => h.HandleId).ToHashSet();
        await using var events = await EventStreamClient.OpenAsync(fixture.Client, "heartbeatEvents", ct);
        var dropped = Assert.Single(await stream.GetAllSubscriptionHandles(), h => !before.Contains(h.HandleId));
        await dropped.UnsubscribeAsync();

        // Up to 25 keep-alives (5 s here) for the stream to end.
        var lines = new List<string>();
        try
        {
            while (lines.Count(l => l == Registry.Gateway.Apis.EventsApi.KeepAliveComment) < 25)
            {
                lines.Add(await events.ReadLineAsync(ct));
            }
        }
        catch (Exception e) when (e is EndOfStreamException or IOException or HttpRequestException)
        {
            // Ended (aborted after its last comment).
        }

        Assert.Contains(Registry.Gateway.Apis.EventsApi.SubscriptionLostComment, lines);
        await fixture.Consumers.AllLeftAsync(ct);
    }

    [Fact(Timeout = 60_000)]
    public async Task When_the_consumer_goes_the_stream_ends_and_its_subscription_is_removed()
    {
        var ct = TestContext.Current.CancellationToken;
        var events = await EventStreamClient.OpenAsync(fixture.Client, "deviceLifecycleEvents", ct);
        var streams = RegistryEventSubscription.StreamsOf(fixture.ClusterClient, RegistryEventSources.DeviceLifecycle);
        Assert.All(await SubscriptionsOf(streams), Assert.NotEmpty);

        await events.DisposeAsync();
        await fixture.Consumers.AllLeftAsync(ct);

        Assert.All(await SubscriptionsOf(streams), Assert.Empty);
    }

    [Theory(Timeout = 60_000)]
    [InlineData("telemetry")]
    [InlineData("deviceConnectionStateEvents")]
    [InlineData("twinChangeEvents")]
    public async Task An_unknown_source_answers_400_InvalidSourceOnRoute_and_subscribes_nothing(string source)
    {
        var ct = TestContext.Current.CancellationToken;
        var joined = fixture.Consumers.Joined;

        using var response = await fixture.Client.GetAsync(EventStreamClient.Path(source), ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("InvalidSourceOnRoute", response.Headers.GetValues(ErrorCodeHeader).Single());
        Assert.Contains("ErrorCode:InvalidSourceOnRoute;", (string?)JsonNode.Parse(await response.Content.ReadAsStringAsync(ct))!["Message"], StringComparison.Ordinal);
        Assert.Equal(joined, fixture.Consumers.Joined);
    }

    [Theory(Timeout = 60_000)]
    [InlineData("events")]
    [InlineData("events/")]
    [InlineData("events/deviceLifecycleEvents/more")]
    public async Task A_path_under_events_without_one_source_answers_IoT_Hubs_error_shape(string path)
    {
        using var response = await fixture.Client.GetAsync($"{path}?{ApiVersion}", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("ArgumentInvalid", response.Headers.GetValues(ErrorCodeHeader).Single());
    }

    [Fact(Timeout = 60_000)]
    public async Task A_caller_without_ServiceConnect_is_refused_401_and_the_service_policy_is_served()
    {
        var ct = TestContext.Current.CancellationToken;
        using var registryReader = fixture.Host.CreateClient("registryRead");
        using var service = fixture.Host.CreateClient("service");
        using var anonymous = fixture.Host.CreateClient(null);

        using var refused = await registryReader.GetAsync(EventStreamClient.Path("deviceLifecycleEvents"), ct);
        using var unsigned = await anonymous.GetAsync(EventStreamClient.Path("deviceLifecycleEvents"), ct);
        await using var served = await EventStreamClient.OpenAsync(service, "deviceLifecycleEvents", ct);

        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, unsigned.StatusCode);
        Assert.Equal(HttpStatusCode.OK, served.Response.StatusCode);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_stream_ends_when_its_token_expires_with_a_last_comment_and_its_subscription_removed()
    {
        var ct = TestContext.Current.CancellationToken;
        var policy = fixture.Host.Policy("service");
        // Valid for ~3 s more: refused once se plus the 5-minute clock skew has passed, as on every other endpoint.
        var expiry = DateTimeOffset.UtcNow - Registry.Gateway.Security.SharedAccessSignature.MaxClockSkew + TimeSpan.FromSeconds(3);
        var authorization = Registry.Gateway.Security.SharedAccessSignature.Create(fixture.Host.HostName, policy.PrimaryKey, policy.KeyName, expiry);
        using var service = fixture.Host.CreateSignedClient(() => authorization);
        var events = await EventStreamClient.OpenAsync(service, "deviceLifecycleEvents", ct);
        var streams = RegistryEventSubscription.StreamsOf(fixture.ClusterClient, RegistryEventSources.DeviceLifecycle);

        var lines = new List<string>();
        try
        {
            while (true)
            {
                lines.Add(await events.ReadLineAsync(ct));
            }
        }
        catch (EndOfStreamException)
        {
            // The registry ended it: what an open stream had before this change never did.
        }
        await events.DisposeAsync();
        await fixture.Consumers.AllLeftAsync(ct);

        Assert.Equal(": closed: the SAS token expired or no longer grants ServiceConnect", lines.Last(l => l.Length > 0));
        Assert.Contains(": keep-alive", lines);
        Assert.All(await SubscriptionsOf(streams), Assert.Empty);
        using var refused = await service.GetAsync(EventStreamClient.Path("deviceLifecycleEvents"), ct);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_client_app_subscribed_through_the_hosts_orleans_gateway_sees_each_create_and_delete_once()
    {
        var ct = TestContext.Current.CancellationToken;
        var settings = fixture.Host.Services.GetRequiredService<RegistrySettings>();
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.UseOrleansClient(client => client
            .UseLocalhostClustering(settings.GatewayPort, settings.ServiceId, settings.ClusterId)
            .AddMemoryStreams(RegistryStreams.Provider));
        using var app = builder.Build();
        await app.StartAsync(ct);
        try
        {
            var client = app.Services.GetRequiredService<IClusterClient>();
            await using var subscriber = await EventRecorder.SubscribeAsync(client, RegistryEventSources.DeviceLifecycle);
            var id = DeviceInputs.NewId("app");

            await fixture.Client.CreateDeviceAsync(id);
            Assert.Equal(HttpStatusCode.NoContent, (await fixture.Client.DeleteDeviceAsync(id)).StatusCode);

            var seen = await subscriber.UntilBarrierAsync([id], ct);
            Assert.Equal([RegistryEventTypes.CreateDeviceIdentity, RegistryEventTypes.DeleteDeviceIdentity], seen.Select(e => e.OpType));
            Assert.All(seen, e => Assert.Equal("localhost", e.ApplicationProperties["hubName"]));
        }
        finally
        {
            await app.StopAsync(CancellationToken.None);
        }
    }

    /// <summary>Each stream's subscriptions in the cluster's pub-sub, in the order of <paramref name="streams"/>.</summary>
    private static Task<IList<StreamSubscriptionHandle<RegistryEvent>>[]> SubscriptionsOf(IReadOnlyList<IAsyncStream<RegistryEvent>> streams) =>
        Task.WhenAll(streams.Select(stream => stream.GetAllSubscriptionHandles()));
}
