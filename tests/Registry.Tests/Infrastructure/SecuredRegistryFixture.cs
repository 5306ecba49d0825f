using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Registry.Gateway.Security;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Infrastructure;

/// <summary>
/// The real registry (silo, device grains, gateway, authentication middleware) with its one clock (the
/// <see cref="TimeProvider"/> in DI) under the test's control, plus one test-only device endpoint. Device endpoints arrive with the heartbeat issue; until
/// then <see cref="TestDeviceEndpoint"/> is mapped into the real app behind the real middleware, exactly as a device
/// endpoint will be (<c>RequireDeviceAccess("id")</c>), so the device rule is tested end to end, not simulated.
/// </summary>
public sealed class SecuredRegistryFixture : IAsyncLifetime
{
    /// <summary>The test-only device endpoint; answers 204 and names the device the middleware authorized.</summary>
    public const string TestDeviceEndpoint = "/devices/{id}/messages/events";

    public const string AuthorizedDeviceHeader = "x-test-authorized-device";

    /// <summary>The registry's one clock, started at the real time so tokens signed now are current.</summary>
    public FakeTimeProvider Clock { get; } = new(DateTimeOffset.UtcNow);

    public RegistryTestHost Host { get; private set; } = null!;

    /// <summary>Signs as iothubowner.</summary>
    public HttpClient Owner { get; private set; } = null!;

    public TimeSpan DeviceCacheDuration { get; } = TimeSpan.FromSeconds(10);

    public async ValueTask InitializeAsync()
    {
        Host = await RegistryTestHost.StartAsync(
            configure: builder => builder.Services.AddSingleton<TimeProvider>(Clock),
            map: app => app.MapPost(TestDeviceEndpoint, (HttpContext context) =>
            {
                context.Response.Headers[AuthorizedDeviceHeader] = context.Features.Get<AuthorizedDevice>()?.DeviceId;
                return Results.NoContent();
            }).RequireDeviceAccess("id"));
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

    /// <summary>POSTs to the test device endpoint of <paramref name="deviceId"/> with the given Authorization (none when null).</summary>
    public async Task<HttpResponseMessage> SendAsDeviceAsync(string deviceId, string? authorization)
    {
        using var client = Host.CreateAnonymousClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"devices/{Uri.EscapeDataString(deviceId)}/messages/events?{ApiVersion}")
        {
            Content = new StringContent("{\"heartbeat\":1}"),
        };
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
