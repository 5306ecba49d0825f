using System.Net;
using System.Text.Json.Nodes;
using Registry.Gateway.Security;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Security;

/// <summary>
/// Each default policy against each registry operation over real HTTPS: the right it holds decides, and a refused
/// operation changes nothing.
/// </summary>
public sealed class PolicyRightsHttpTests(SecuredRegistryFixture registry) : IClassFixture<SecuredRegistryFixture>
{
    public enum Operation
    {
        GetDevice,
        ListDevices,
        Statistics,
        CreateDevice,
        UpdateDevice,
        DeleteDevice,
        Bulk,
    }

    private static readonly Operation[] Reads = [Operation.GetDevice, Operation.ListDevices, Operation.Statistics];
    private static readonly Operation[] Writes = [Operation.CreateDevice, Operation.UpdateDevice, Operation.DeleteDevice, Operation.Bulk];

    public static TheoryData<string, Operation, bool> Matrix()
    {
        var data = new TheoryData<string, Operation, bool>();
        foreach (var op in Enum.GetValues<Operation>())
        {
            data.Add("iothubowner", op, true);
            data.Add("registryReadWrite", op, true);
            data.Add("registryRead", op, Reads.Contains(op));
            data.Add("service", op, false);
            data.Add("device", op, false);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Policy_rights_decide_each_registry_operation(string policy, Operation operation, bool allowed)
    {
        var id = await SeedAsync(operation);
        var before = await SnapshotAsync(id);
        using var client = registry.Host.CreateClient(policy);
        using var response = await SendAsync(client, operation, id);
        if (allowed)
        {
            Assert.True(response.IsSuccessStatusCode, $"{policy} {operation}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
        else
        {
            await SecurityAssert.UnauthorizedAsync(response, $"{policy} {operation}");
            Assert.True(JsonNode.DeepEquals(before, await SnapshotAsync(id)), $"{policy} {operation} changed the registry");
        }
    }

    [Theory]
    [MemberData(nameof(AllOperations))]
    public async Task Anonymous_caller_is_refused_every_registry_operation(Operation operation)
    {
        var id = await SeedAsync(operation);
        var before = await SnapshotAsync(id);
        using var client = registry.Host.CreateAnonymousClient();
        using var response = await SendAsync(client, operation, id);
        await SecurityAssert.UnauthorizedAsync(response, operation.ToString());
        Assert.True(JsonNode.DeepEquals(before, await SnapshotAsync(id)));
    }

    [Theory]
    [MemberData(nameof(AllOperations))]
    public async Task Device_token_cannot_read_or_write_the_registry_even_for_its_own_device(Operation operation)
    {
        var (own, primary, secondary) = await registry.NewDeviceAsync("own");
        // Creates aim at a new id; every other operation at the device's own identity.
        var id = operation is Operation.CreateDevice or Operation.Bulk ? await SeedAsync(operation) : own;
        var before = await SnapshotAsync(id);
        foreach (var key in new[] { primary, secondary })
        {
            using var client = registry.Host.CreateDeviceClient(own, key);
            using var response = await SendAsync(client, operation, id);
            await SecurityAssert.UnauthorizedAsync(response, operation.ToString());
        }
        // A DeviceConnect policy token scoped to the device is no better on registry endpoints.
        using var policyClient = registry.Host.CreateSignedClient(() => registry.PolicyToken("device", $"{registry.Host.HostName}/devices/{own}"));
        using (var response = await SendAsync(policyClient, operation, id))
        {
            await SecurityAssert.UnauthorizedAsync(response, operation.ToString());
        }
        Assert.True(JsonNode.DeepEquals(before, await SnapshotAsync(id)));
    }

    public static TheoryData<Operation> AllOperations() => new(Enum.GetValues<Operation>());

    [Fact]
    public async Task Liveness_needs_no_token()
    {
        using var client = registry.Host.CreateAnonymousClient();
        using var response = await client.GetAsync("healthz");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Token_scoped_to_devices_reads_devices_but_not_statistics()
    {
        using var client = registry.Host.CreateSignedClient(() => registry.PolicyToken("registryRead", $"{registry.Host.HostName}/devices"));
        using (var list = await client.GetAsync($"devices/?{ApiVersion}"))
        {
            Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        }
        using var statistics = await client.GetAsync($"statistics/devices?{ApiVersion}");
        await SecurityAssert.UnauthorizedAsync(statistics);
    }

    [Fact]
    public async Task Every_refusal_reads_the_same_so_it_reveals_nothing()
    {
        var owner = registry.Host.Policy("iothubowner");
        var tokens = new[]
        {
            "SharedAccessSignature garbage",
            SasVectors.Owner,
            registry.PolicyToken("registryRead"),
            SharedAccessSignature.Create(registry.Host.HostName, owner.PrimaryKey, "iothubowner", DateTimeOffset.UtcNow.AddHours(-1)),
            SharedAccessSignature.Create("elsewhere", owner.PrimaryKey, "iothubowner", DateTimeOffset.UtcNow.AddHours(1)),
            SharedAccessSignature.Create(registry.Host.HostName, owner.PrimaryKey, "nobody", DateTimeOffset.UtcNow.AddHours(1)),
        };
        var messages = new HashSet<string>();
        using var client = registry.Host.CreateAnonymousClient();
        foreach (var token in tokens)
        {
            using var request = new HttpRequestMessage(HttpMethod.Delete, DevicePath("nobody-home"));
            request.Headers.TryAddWithoutValidation("Authorization", token);
            using var response = await client.SendAsync(request);
            await SecurityAssert.UnauthorizedAsync(response);
            Assert.DoesNotContain(response.Headers, h => h.Key.StartsWith("WWW-", StringComparison.OrdinalIgnoreCase));
            messages.Add((string)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["Message"]!);
        }
        Assert.Single(messages);
    }

    /// <summary>The device the operation aims at: existing for get/update/delete, new for create.</summary>
    private async Task<string> SeedAsync(Operation operation)
    {
        var id = $"rights-{operation}-{Guid.NewGuid():N}"[..32];
        if (operation is not Operation.CreateDevice and not Operation.Bulk)
        {
            await registry.Owner.CreateDeviceAsync(id);
        }
        return id;
    }

    private static Task<HttpResponseMessage> SendAsync(HttpClient client, Operation operation, string id)
    {
        var path = DevicePath(id);
        switch (operation)
        {
            case Operation.GetDevice:
                return client.GetAsync(path);
            case Operation.ListDevices:
                return client.GetAsync($"devices/?{ApiVersion}");
            case Operation.Statistics:
                return client.GetAsync($"statistics/devices?{ApiVersion}");
            case Operation.CreateDevice:
                return client.PutAsync(path, Json(Json(new { deviceId = id })));
            case Operation.UpdateDevice:
                var update = new HttpRequestMessage(HttpMethod.Put, path)
                {
                    Content = Json(Json(new { deviceId = id, status = "disabled" })),
                };
                update.Headers.TryAddWithoutValidation("If-Match", "\"*\"");
                return client.SendAsync(update);
            case Operation.DeleteDevice:
                return client.DeleteAsync(path);
            default:
                return client.PostAsync($"devices?{ApiVersion}",
                    Json(Json(new[] { new { id, importMode = "create" } })));
        }
    }

    /// <summary>The target device as the owner reads it (404 text when absent) and the statistics.</summary>
    private async Task<JsonObject> SnapshotAsync(string id)
    {
        using var device = await registry.Owner.GetAsync(DevicePath(id));
        using var statistics = await registry.Owner.GetAsync($"statistics/devices?{ApiVersion}");
        return new JsonObject
        {
            ["device"] = device.IsSuccessStatusCode ? JsonNode.Parse(await device.Content.ReadAsStringAsync()) : ((int)device.StatusCode).ToString(),
            ["statistics"] = JsonNode.Parse(await statistics.Content.ReadAsStringAsync()),
        };
    }
}
