using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using MQTTnet;
using MQTTnet.Formatter;
using Registry.Gateway.Security;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Observability;

/// <summary>
/// <c>/metrics</c> on the management port shows the registry's instruments with the values known actions produce, read
/// as Prometheus reads them: the difference of two scrapes around the actions.
/// </summary>
public sealed class MetricsEndpointTests(ObservedRegistryFixture registry) : IClassFixture<ObservedRegistryFixture>
{
    private const string Operations = "registry_operations_total";

    /// <summary>
    /// As the probes beside it: GET and HEAD, any other method 405 (hostile review, 2026-12-05: POST, PUT, DELETE,
    /// OPTIONS and TRACE /metrics each answered 200 with the metrics).
    /// </summary>
    [Fact]
    public async Task Metrics_answer_get_and_head_and_refuse_other_methods_with_405()
    {
        using var http = registry.Management();

        foreach (var method in new[] { HttpMethod.Get, HttpMethod.Head })
        {
            using var response = await http.SendAsync(new HttpRequestMessage(method, "metrics"));
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{method} /metrics: {(int)response.StatusCode}");
        }
        foreach (var method in new[] { HttpMethod.Post, HttpMethod.Put, HttpMethod.Delete, HttpMethod.Patch, HttpMethod.Options, HttpMethod.Trace })
        {
            using var response = await http.SendAsync(new HttpRequestMessage(method, "metrics"));
            Assert.True(response.StatusCode == HttpStatusCode.MethodNotAllowed, $"{method} /metrics: {(int)response.StatusCode}");
            Assert.Equal(["GET", "HEAD"], response.Content.Headers.Allow);
        }
    }

    [Fact]
    public async Task Creating_3_devices_adds_3_to_the_create_operations_answered_200_and_3_registered_devices()
    {
        using var http = registry.Owner();
        var before = await registry.ScrapeAsync();

        for (var i = 0; i < 3; i++)
        {
            var id = $"metrics-create-{i}";
            Assert.Equal(HttpStatusCode.OK, (await http.PutAsJsonAsync(DevicePath(id), new { deviceId = id })).StatusCode);
        }

        var after = await registry.ScrapeAsync();
        Assert.Equal(3, Delta(before, after, Operations, ("http_request_method", "PUT"), ("http_route", "/devices/{id}"), ("http_response_status_code", "200")));
        Assert.Equal(3, Delta(before, after, "registry_devices"));
    }

    [Fact]
    public async Task Five_device_messages_add_5_to_the_heartbeats_counter()
    {
        var (id, key) = await CreateDeviceAsync("metrics-heartbeat");
        using var device = registry.Device(id, key);
        var before = await registry.ScrapeAsync();

        for (var i = 0; i < 5; i++)
        {
            using var message = new HttpRequestMessage(HttpMethod.Post, $"devices/{id}/messages/events?{ApiVersion}") { Content = Json("{\"n\":1}") };
            Assert.Equal(HttpStatusCode.NoContent, (await device.SendAsync(message)).StatusCode);
        }

        var after = await registry.ScrapeAsync();
        Assert.Equal(5, Delta(before, after, "registry_heartbeats_total"));
    }

    [Fact]
    public async Task A_device_connecting_over_MQTT_adds_1_to_the_connected_devices()
    {
        var (id, key) = await CreateDeviceAsync("metrics-mqtt");
        var before = await registry.ScrapeAsync();

        var options = new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", registry.MqttPort)
            .WithProtocolVersion(MqttProtocolVersion.V311)
            .WithClientId(id)
            .WithCredentials($"{ObservedRegistryFixture.HostName}/{id}/?{ApiVersion}",
                SharedAccessSignature.Create($"{ObservedRegistryFixture.HostName}/devices/{id}", key, null, DateTimeOffset.UtcNow.AddHours(1)))
            .WithTlsOptions(tls => tls.UseTls().WithTargetHost("localhost").WithCertificateValidationHandler(e => registry.Trusts(e.Certificate)))
            .Build();
        using var client = new MqttClientFactory().CreateMqttClient();
        var connected = await client.ConnectAsync(options, TestContext.Current.CancellationToken);

        Assert.Equal(MqttClientConnectResultCode.Success, connected.ResultCode);
        var after = await registry.ScrapeAsync();
        Assert.Equal(1, Delta(before, after, "registry_devices_connected"));
        await client.DisconnectAsync(cancellationToken: TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task A_throttled_request_adds_1_to_the_throttled_counter_of_its_throttle_and_counts_as_429_ThrottlingException()
    {
        using var http = registry.Owner();
        var before = await registry.ScrapeAsync();

        // Job operations are limited to one an hour here: the first passes, the second is refused whatever the timing.
        using var first = await http.GetAsync($"jobs?{ApiVersion}");
        using var second = await http.GetAsync($"jobs?{ApiVersion}");

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
        var after = await registry.ScrapeAsync();
        Assert.Equal(1, Delta(before, after, "registry_throttled_total", ("throttle", "JobOperations")));
        Assert.Equal(1, Delta(before, after, Operations, ("http_route", "/jobs"), ("http_response_status_code", "429"), ("error_type", "ThrottlingException")));
    }

    [Fact]
    public async Task A_failed_operation_counts_with_its_status_and_IoT_Hub_error_code()
    {
        using var http = registry.Owner();
        var before = await registry.ScrapeAsync();

        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(DevicePath("metrics-missing"))).StatusCode);

        var after = await registry.ScrapeAsync();
        Assert.Equal(1, Delta(before, after, Operations,
            ("http_request_method", "GET"), ("http_route", "/devices/{id}"), ("http_response_status_code", "404"), ("error_type", "DeviceNotFound")));
    }

    [Fact]
    public async Task A_request_refused_by_authentication_counts_as_401_and_liveness_does_not_count()
    {
        using var anonymous = registry.Anonymous();
        var before = await registry.ScrapeAsync();

        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync(DevicePath("metrics-anonymous"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("healthz")).StatusCode);

        var after = await registry.ScrapeAsync();
        Assert.Equal(1, Delta(before, after, Operations, ("http_route", "/devices/{id}"), ("http_response_status_code", "401")));
        Assert.Equal(0, Delta(before, after, Operations, ("http_route", "/healthz")));
    }

    [Fact]
    public async Task The_scrape_carries_the_registry_Orleans_and_ASP_NET_Core_meters()
    {
        using var http = registry.Owner();
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"statistics/devices?{ApiVersion}")).StatusCode);

        var scrape = await registry.ScrapeAsync();

        Assert.True(scrape.Has(Operations), scrape.Text);
        Assert.Contains("\norleans_", scrape.Text, StringComparison.Ordinal);
        Assert.True(scrape.Has("http_server_request_duration_seconds_count"), scrape.Text);
    }

    [Fact]
    public async Task The_management_port_serves_metrics_and_probes_only_and_the_https_port_no_metrics()
    {
        using var management = registry.Management();
        using var https = registry.Owner();

        Assert.Equal(HttpStatusCode.OK, (await management.GetAsync("metrics")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await management.GetAsync("healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await management.GetAsync("readyz")).StatusCode);
        // The registry API is never served over plain HTTP, not even with valid credentials.
        using var overPlainHttp = new HttpRequestMessage(HttpMethod.Get, DevicePath("metrics-create-0"));
        Assert.Equal(HttpStatusCode.NotFound, (await management.SendAsync(overPlainHttp)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await management.GetAsync("openapi/v1.json")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await https.GetAsync("metrics")).StatusCode);
    }

    private static double Delta(ObservedRegistryFixture.Scrape before, ObservedRegistryFixture.Scrape after, string name, params (string, string)[] labels) =>
        after.Sum(name, labels) - before.Sum(name, labels);

    private async Task<(string Id, string Key)> CreateDeviceAsync(string id)
    {
        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        using var http = registry.Owner();
        var body = new { deviceId = id, authentication = new { type = "sas", symmetricKey = new { primaryKey = key, secondaryKey = key } } };
        using var created = await http.PutAsJsonAsync(DevicePath(id), body);
        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        return (id, key);
    }
}
