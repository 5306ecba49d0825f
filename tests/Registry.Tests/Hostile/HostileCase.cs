using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Registry.Abstractions;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Hostile;

/// <summary>
/// One request the registry must refuse (docs/invariants.md §7): what is sent, and the status and IoT Hub error code it must
/// answer. <see cref="PathAndQuery"/> is relative to the host and already encoded as it goes on the wire;
/// <see cref="Body"/> is sent as UTF-8 with <c>application/json; charset=utf-8</c> unless <see cref="Headers"/>
/// say otherwise (<c>Transfer-Encoding: chunked</c> sends it without a Content-Length).
/// </summary>
public sealed record HostileCase(
    string Category,
    string Name,
    HttpMethod Method,
    string PathAndQuery,
    string? Body,
    IReadOnlyDictionary<string, string>? Headers,
    int ExpectedStatus,
    string ExpectedErrorCode)
{
    /// <summary>
    /// For a bulk answer (<c>BulkRegistryOperationFailure</c>, whose body is a BulkRegistryOperationResult rather than
    /// the legacy error): the errorCode every failed item must carry.
    /// </summary>
    public string? ItemErrorCode { get; init; }

    public string DisplayName => $"{Category}: {Name}";

    public override string ToString() => DisplayName;
}

/// <summary>
/// Sends a <see cref="HostileCase"/> and proves it was refused exactly as expected and changed nothing: the
/// statistics, the device list and every watched device (the seeded ones and any id the case names) read the
/// same, etags included, before and after. Reusable by any corpus (e.g. the authentication half).
/// </summary>
public static class HostileRequestHarness
{
    public const string BulkFailure = "BulkRegistryOperationFailure";

    /// <summary>
    /// Sends <paramref name="case"/> with <paramref name="sender"/> and asserts the refusal; <paramref name="observer"/>
    /// (a client allowed to read the registry) captures the state around it.
    /// </summary>
    public static async Task AssertRefusedAndHarmlessAsync(
        HttpClient sender, HttpClient observer, HostileCase @case, IEnumerable<string> watchedDeviceIds)
    {
        var watched = watchedDeviceIds.Concat(AffectedDeviceIds(@case))
            .Where(DeviceValidation.IsValidDeviceId).Distinct(StringComparer.Ordinal).ToArray();
        var before = await SnapshotAsync(observer, watched);

        using (var request = ToRequest(@case))
        using (var response = await sender.SendAsync(request))
        {
            await AssertRefusalAsync(response, @case);
        }

        var after = await SnapshotAsync(observer, watched);
        Assert.True(JsonNode.DeepEquals(before, after),
            $"{@case.DisplayName} changed the registry:\n before {before.ToJsonString()}\n after  {after.ToJsonString()}");
    }

    public static HttpRequestMessage ToRequest(HostileCase @case)
    {
        var request = new HttpRequestMessage(@case.Method, @case.PathAndQuery);
        var headers = @case.Headers ?? new Dictionary<string, string>();
        if (@case.Body is not null)
        {
            var bytes = Encoding.UTF8.GetBytes(@case.Body);
            var chunked = headers.TryGetValue("Transfer-Encoding", out var te) && te.Equals("chunked", StringComparison.OrdinalIgnoreCase);
            request.Content = chunked ? new UnsizedContent(bytes) : new ByteArrayContent(bytes);
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(RegistryHttp.JsonContentType);
        }
        foreach (var (name, value) in headers)
        {
            if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }
            if (name.StartsWith("Content-", StringComparison.OrdinalIgnoreCase))
            {
                request.Content ??= new ByteArrayContent([]);
                request.Content.Headers.Remove(name);
                Assert.True(request.Content.Headers.TryAddWithoutValidation(name, value), $"{@case.DisplayName}: header {name} not sendable");
            }
            else
            {
                Assert.True(request.Headers.TryAddWithoutValidation(name, value), $"{@case.DisplayName}: header {name} not sendable");
            }
        }
        return request;
    }

    /// <summary>The exact status, never a 5xx, the <c>iothub-errorcode</c> header and the code in the body.</summary>
    public static async Task AssertRefusalAsync(HttpResponseMessage response, HostileCase @case)
    {
        var status = (int)response.StatusCode;
        if (@case.ExpectedErrorCode != BulkFailure)
        {
            await response.AssertIotHubErrorAsync(@case.ExpectedStatus, @case.ExpectedErrorCode);
            return;
        }
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status < 500 && status == @case.ExpectedStatus, $"expected {@case.ExpectedStatus} {BulkFailure}, got {status}: {text}");
        Assert.Equal(BulkFailure, response.Headers.TryGetValues(RegistryHttp.ErrorCodeHeader, out var codes) ? codes.Single() : null);
        var result = JsonNode.Parse(text)!.AsObject();
        Assert.False((bool)result["isSuccessful"]!, text);
        var errors = result["errors"]!.AsArray();
        Assert.NotEmpty(errors);
        Assert.All(errors, e => Assert.Equal(@case.ItemErrorCode, (string?)e!["errorCode"]));
    }

    /// <summary>What a refused request must leave as it found it.</summary>
    public static async Task<JsonObject> SnapshotAsync(HttpClient http, IReadOnlyCollection<string> deviceIds)
    {
        var devices = new JsonObject();
        foreach (var id in deviceIds)
        {
            using var response = await http.GetDeviceAsync(id);
            devices[id] = response.StatusCode == HttpStatusCode.OK
                ? JsonNode.Parse(await response.Content.ReadAsStringAsync())
                : $"{(int)response.StatusCode} {string.Join(",", response.Headers.TryGetValues(RegistryHttp.ErrorCodeHeader, out var c) ? c : [])}";
        }
        using var list = await http.GetAsync($"devices/?top=1000&{RegistryHttp.ApiVersion}");
        return new JsonObject
        {
            ["statistics"] = await http.StatisticsAsync(),
            ["devices"] = devices,
            ["list"] = await list.ReadJsonAsync(HttpStatusCode.OK),
        };
    }

    /// <summary>Ids the case addresses: the decoded path id of <c>/devices/{id}</c> and any id its JSON body names.</summary>
    public static IEnumerable<string> AffectedDeviceIds(HostileCase @case)
    {
        var path = @case.PathAndQuery.Split('?', 2)[0].Trim('/').Split('/');
        if (path.Length == 2 && path[0] == "devices" && path[1].Length > 0)
        {
            yield return Uri.UnescapeDataString(path[1]);
        }
        foreach (var id in BodyIds(@case.Body))
        {
            yield return id;
        }
    }

    // JsonDocument, unlike JsonNode, keeps duplicate properties, so both ids of {"deviceId":"a","deviceId":"b"} are watched.
    private static List<string> BodyIds(string? body)
    {
        var ids = new List<string>();
        try
        {
            using var document = JsonDocument.Parse(body ?? "", new JsonDocumentOptions { MaxDepth = 4096 });
            var root = document.RootElement;
            var objects = root.ValueKind switch
            {
                JsonValueKind.Object => [root],
                JsonValueKind.Array => root.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.Object).ToArray(),
                _ => [],
            };
            ids.AddRange(objects.SelectMany(o => o.EnumerateObject())
                .Where(p => p.Name.Equals("id", StringComparison.OrdinalIgnoreCase) || p.Name.Equals("deviceId", StringComparison.OrdinalIgnoreCase))
                .Where(p => p.Value.ValueKind == JsonValueKind.String)
                .Select(p => p.Value.GetString()!));
        }
        catch (JsonException)
        {
            // Not JSON: only the path names a device.
        }
        return ids;
    }

    /// <summary>A body with no known length, so HttpClient sends it chunked and the server must cap it while reading.</summary>
    private sealed class UnsizedContent(byte[] bytes) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context) =>
            stream.WriteAsync(bytes).AsTask();

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
