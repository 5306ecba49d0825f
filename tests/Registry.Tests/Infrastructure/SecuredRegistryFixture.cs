using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using Registry.Gateway.Security;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Infrastructure;

/// <summary>
/// The real registry (silo, device grains, gateway, authentication middleware) with its one clock (the
/// <see cref="TimeProvider"/> in DI) under the test's control. The device rule is tested end to end through the real
/// HTTPS device endpoint, <c>POST /devices/{id}/messages/events</c>.
/// </summary>
public sealed class SecuredRegistryFixture : IAsyncLifetime
{
    /// <summary>The registry's one clock, started at the real time so tokens signed now are current.</summary>
    public FakeTimeProvider Clock { get; } = new(DateTimeOffset.UtcNow);

    public RegistryTestHost Host { get; private set; } = null!;

    /// <summary>Signs as iothubowner.</summary>
    public HttpClient Owner { get; private set; } = null!;

    public TimeSpan DeviceCacheDuration { get; } = TimeSpan.FromSeconds(10);

    public async ValueTask InitializeAsync()
    {
        Host = await RegistryTestHost.StartAsync(configure: builder => builder.Services.UseGrainClock(Clock));
        Owner = Host.CreateClient();
    }

    /// <summary>Replaces a device unconditionally (If-Match *) and returns it; fails the test unless 200.</summary>
    public async Task<JsonObject> UpdateDeviceAsync(string id, object body)
    {
        using var response = await Owner.PutDeviceAsync(id, Json(body), "\"*\"");
        return await response.ReadDeviceAsync(HttpStatusCode.OK);
    }

    /// <summary>A fresh device with generated keys: (id, primary key, secondary key).</summary>
    public async Task<(string Id, string Primary, string Secondary)> NewDeviceAsync(string prefix)
    {
        var id = $"{prefix}-{Guid.NewGuid():N}"[..Math.Min(prefix.Length + 13, 128)];
        var device = await Owner.CreateDeviceAsync(id);
        var keys = device["authentication"]!["symmetricKey"]!;
        return (id, (string)keys["primaryKey"]!, (string)keys["secondaryKey"]!);
    }

    /// <summary>Sends one telemetry message as the device SDK does (no Content-Type, chunked) to the device endpoint of <paramref name="deviceId"/> with the given Authorization (none when null).</summary>
    public async Task<HttpResponseMessage> SendAsDeviceAsync(string deviceId, string? authorization)
    {
        using var client = Host.CreateAnonymousClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"devices/{Uri.EscapeDataString(deviceId)}/messages/events?{ApiVersion}")
        {
            Content = new StreamContent(new MemoryStream("{\"temperature\":21.5}"u8.ToArray())),
        };
        request.Headers.TransferEncodingChunked = true;
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }
        return await client.SendAsync(request);
    }

    /// <summary>A token signed with a device key for <c>sr = HostName/devices/{id}</c>, valid an hour.</summary>
    public string DeviceToken(string deviceId, string key, string? resource = null) =>
        SharedAccessSignature.Create(resource ?? $"{Host.HostName}/devices/{deviceId}", key, null, DateTimeOffset.UtcNow.AddHours(1));

    /// <summary>A token signed by a policy, valid an hour; <paramref name="resource"/> defaults to the HostName.</summary>
    public string PolicyToken(string policy, string? resource = null) =>
        SharedAccessSignature.Create(resource ?? Host.HostName, Host.Policy(policy).PrimaryKey, policy, DateTimeOffset.UtcNow.AddHours(1));

    public async ValueTask DisposeAsync()
    {
        Owner.Dispose();
        await Host.DisposeAsync();
    }
}
