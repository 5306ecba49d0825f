using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Durability;

/// <summary>
/// Storage down (its Azurite process stopped): requests answer IoT Hub's 503 ServiceUnavailable, which the SDKs
/// retry, rather than hang and fail with 500; nothing half-done shows once storage is back; the host still stops.
/// Each test runs its own Azurite, since it stops it.
/// </summary>
public sealed class StorageOutageTests
{
    [Fact(Timeout = 240_000)]
    public async Task Writes_and_bulk_items_while_storage_is_down_answer_ServiceUnavailable_and_change_nothing()
    {
        var ct = TestContext.Current.CancellationToken;
        var storage = await AzuriteServer.StartAsync(Directory.CreateTempSubdirectory("azurite-").FullName, ct);
        try
        {
            await using var host = await RegistryTestHost.StartAsync(Durable(storage));
            using var http = host.CreateClient();
            var created = await http.PutAsJsonAsync(DevicePath("outage-1"), new { deviceId = "outage-1", status = "enabled" }, ct);
            Assert.Equal(HttpStatusCode.OK, created.StatusCode);
            var before = (await created.Content.ReadFromJsonAsync<JsonObject>(ct))!;

            await storage.StopAsync(ct); // the outage: Azurite's process is stopped (SIGTERM, so it saves what it has)
            using var update = await http.SendAsync(Put("outage-1", new { deviceId = "outage-1", status = "disabled" }, "\"*\""), ct);
            using var create = await http.SendAsync(Put("outage-2", new { deviceId = "outage-2" }, ifMatch: null), ct);
            using var delete = await http.SendAsync(new HttpRequestMessage(HttpMethod.Delete, DevicePath("outage-1")) { Headers = { { "If-Match", "\"*\"" } } }, ct);

            using var bulk = await http.PostAsJsonAsync($"devices?{ApiVersion}",
                new[] { new { id = "outage-3", importMode = "create" } }, ct);

            foreach (var response in new[] { update, create, delete })
            {
                await AssertServiceUnavailable(response, ct);
            }
            Assert.Equal(HttpStatusCode.BadRequest, bulk.StatusCode);
            var item = Assert.Single((await bulk.Content.ReadFromJsonAsync<JsonObject>(ct))!["errors"]!.AsArray())!;
            Assert.Equal(("outage-3", "ServiceUnavailable"), ((string?)item["deviceId"], (string?)item["errorCode"]));

            storage = await storage.RestartAsync(ct);
            var after = await http.GetFromJsonAsync<JsonObject>(DevicePath("outage-1"), ct);
            Assert.True(JsonNode.DeepEquals(before, after), $"{before.ToJsonString()} != {after!.ToJsonString()}");
            Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(DevicePath("outage-2"), ct)).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(DevicePath("outage-3"), ct)).StatusCode);
            var stats = await http.GetFromJsonAsync<JsonObject>($"statistics/devices?{ApiVersion}", ct);
            Assert.Equal(1, (long)stats!["totalDeviceCount"]!);
            // The grain agrees with storage: the eTag read before the outage still matches.
            using var retried = await http.SendAsync(Put("outage-1", new { deviceId = "outage-1", status = "disabled" }, (string)before["etag"]!), ct);
            Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
        }
        finally
        {
            await storage.DisposeAsync();
        }
    }

    /// <summary>
    /// The defect this guards: the job list and a job live in Orleans' own table storage, which was not bounded, so a job
    /// request while storage was down answered 500 ServerError ("Error from storage provider … jobregistry/0").
    /// </summary>
    [Fact(Timeout = 240_000)]
    public async Task Job_requests_while_storage_is_down_answer_ServiceUnavailable_and_the_jobs_answer_again_once_it_is_back()
    {
        var ct = TestContext.Current.CancellationToken;
        var storage = await AzuriteServer.StartAsync(Directory.CreateTempSubdirectory("azurite-").FullName, ct);
        try
        {
            await using var host = await RegistryTestHost.StartAsync(Durable(storage));
            using var http = host.CreateClient();

            await storage.StopAsync(ct);
            using var list = await http.GetAsync($"jobs?{ApiVersion}", ct);
            using var job = await http.GetAsync($"jobs/{Guid.NewGuid():D}?{ApiVersion}", ct);

            await AssertServiceUnavailable(list, ct);
            await AssertServiceUnavailable(job, ct);
            storage = await storage.RestartAsync(ct);
            Assert.Empty((await http.GetFromJsonAsync<JsonArray>($"jobs?{ApiVersion}", ct))!);
        }
        finally
        {
            await storage.DisposeAsync();
        }
    }

    // The timeout only guards against a hang: far above the 5 s configured below, far below the minutes Orleans'
    // membership agent would retry its last status writes.
    [Fact(Timeout = 90_000)]
    public async Task A_durable_host_stops_while_storage_is_down()
    {
        var ct = TestContext.Current.CancellationToken;
        var storage = await AzuriteServer.StartAsync(ct);
        try
        {
            var settings = Durable(storage);
            settings["Registry:ShutdownTimeoutSeconds"] = "5";
            var host = await RegistryTestHost.StartAsync(settings);
            using (var http = host.CreateClient())
            {
                var created = await http.PutAsJsonAsync(DevicePath("stopping-1"), new { deviceId = "stopping-1" }, ct);
                Assert.Equal(HttpStatusCode.OK, created.StatusCode);
            }

            await storage.DisposeAsync(); // killed

            // Completes (the test's timeout is only a guard against a hang): the silo cannot even mark itself dead.
            await host.DisposeAsync();
        }
        finally
        {
            await storage.DisposeAsync();
        }
    }

    private static Dictionary<string, string?> Durable(AzuriteServer storage)
    {
        var service = "out" + Guid.NewGuid().ToString("N")[..8];
        return new Dictionary<string, string?>
        {
            ["Registry:StorageConnectionString"] = storage.ConnectionString,
            ["Registry:StoragePrefix"] = service,
            ["Registry:ServiceId"] = service,
            ["Registry:ClusterId"] = service,
            ["Registry:StorageTimeoutSeconds"] = "2",
        };
    }

    private static async Task AssertServiceUnavailable(HttpResponseMessage response, CancellationToken ct)
    {
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("ServiceUnavailable", response.Headers.GetValues("iothub-errorcode").Single());
        var body = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
        Assert.StartsWith("ErrorCode:ServiceUnavailable;", (string)body!["Message"]!, StringComparison.Ordinal);
    }

    private static HttpRequestMessage Put(string id, object body, string? ifMatch)
    {
        var request = new HttpRequestMessage(HttpMethod.Put, DevicePath(id)) { Content = JsonContent.Create(body) };
        if (ifMatch is not null)
        {
            request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        }
        return request;
    }
}
