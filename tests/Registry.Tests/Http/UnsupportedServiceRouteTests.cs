using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Http;

/// <summary>
/// IoT Hub service calls this registry does not serve (twins, direct methods, configurations, digital twins, service-side
/// cloud-to-device) answer IoT Hub's error shape, the same for a registered and an unknown device, never a 404 that
/// reads as "device gone".
/// </summary>
public sealed class UnsupportedServiceRouteTests(RegistryHostFixture registry) : IClassFixture<RegistryHostFixture>
{
    private const string Present = "unsupported-present";
    private const string Absent = "unsupported-absent";

    /// <summary>
    /// Review, stop 32: <c>registry.getTwin</c>, <c>updateTwin</c>, <c>getConfigurations</c>, <c>invokeDeviceMethod</c> and
    /// <c>DigitalTwinClient.getDigitalTwin</c> got a bare 404 (no body, no <c>iothub-errorcode</c>), identical for an
    /// existing and a missing device, so a ported app could read it as the device being gone.
    /// </summary>
    [Theory]
    [InlineData("GET", "twins/{id}")]
    [InlineData("PATCH", "twins/{id}")]
    [InlineData("PUT", "twins/{id}")]
    [InlineData("POST", "twins/{id}/methods")]
    [InlineData("GET", "twins/{id}/modules/m1")]
    [InlineData("POST", "twins/{id}/modules/m1/methods")]
    [InlineData("GET", "configurations")]
    [InlineData("GET", "configurations/c1")]
    [InlineData("PUT", "configurations/c1")]
    [InlineData("GET", "digitaltwins/{id}")]
    [InlineData("PATCH", "digitaltwins/{id}")]
    [InlineData("POST", "digitaltwins/{id}/commands/reboot")]
    [InlineData("POST", "messages/deviceBound")]
    [InlineData("GET", "messages/serviceBound/feedback")]
    public async Task An_iot_hub_service_route_the_registry_does_not_serve_answers_400_ArgumentInvalid_for_a_present_and_an_absent_device_alike(
        string method, string template)
    {
        await EnsurePresentAsync();
        var texts = new List<string>();
        foreach (var id in new[] { Present, Absent })
        {
            var path = template.Replace("{id}", id, StringComparison.Ordinal);
            using var response = await registry.Client.SendAsync(new HttpMethod(method), $"{path}?{ApiVersion}", method is "GET" ? null : "{}");

            var body = await response.AssertIotHubErrorAsync(400, "ArgumentInvalid");
            var message = (string)body["Message"]!;
            Assert.Contains($"'{method} /{path}' is not supported", message, StringComparison.Ordinal);
            texts.Add(message.Replace(id, "{id}", StringComparison.Ordinal));
        }
        Assert.Equal(texts[0], texts[1]);
    }

    /// <summary>Review, stop 32: the device HTTPS endpoint beside these catch-alls still takes a device's telemetry.</summary>
    [Fact]
    public async Task The_device_telemetry_endpoint_is_not_taken_by_the_catch_alls()
    {
        var device = await EnsurePresentAsync();
        var key = (string)device["authentication"]!["symmetricKey"]!["primaryKey"]!;
        using var client = registry.Host.CreateDeviceClient(Present, key);

        using var response = await client.PostAsync($"devices/{Present}/messages/events?{ApiVersion}", Json("{}"));

        Assert.Equal(System.Net.HttpStatusCode.NoContent, response.StatusCode);
    }

    private async Task<System.Text.Json.Nodes.JsonObject> EnsurePresentAsync()
    {
        using var existing = await registry.Client.GetDeviceAsync(Present);
        return existing.IsSuccessStatusCode
            ? await existing.ReadDeviceAsync(System.Net.HttpStatusCode.OK)
            : await registry.Client.CreateDeviceAsync(Present);
    }
}
