using System.Net;
using System.Text.Json.Nodes;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Http;

/// <summary>
/// Optimistic concurrency under contention over real connections (docs/invariants.md §2).
/// <c>DeviceGrainTests.Thirty_two_concurrent_updates_from_one_etag_let_exactly_one_through</c> proves the grain lets one
/// writer through; this proves the gateway keeps it so: it checks <c>If-Match</c> only inside the grain call (a
/// check of its own before the call would let several writers through), every loser gets IoT Hub's 412
/// <c>PreconditionFailed</c>, and the winner's answer is what was stored.
/// </summary>
public sealed class ConcurrentUpdateTests(RegistryHostFixture registry) : IClassFixture<RegistryHostFixture>
{
    private const int Writers = 32;

    private readonly HttpClient _http = registry.Client;

    [Fact]
    public async Task Of_32_concurrent_puts_with_the_same_etag_exactly_one_wins_and_its_write_is_stored()
    {
        const string id = "contended";
        var created = await _http.CreateDeviceAsync(id);
        var ifMatch = $"\"{created["etag"]}\"";
        using var start = new SemaphoreSlim(0);

        var writes = Enumerable.Range(0, Writers).Select(async writer =>
        {
            await start.WaitAsync();
            using var response = await _http.PutDeviceAsync(id, Json(new { deviceId = id, statusReason = $"writer-{writer}" }), ifMatch);
            return (Status: response.StatusCode, Reason: $"writer-{writer}", Body: await response.Content.ReadAsStringAsync(),
                Code: response.Headers.TryGetValues(ErrorCodeHeader, out var codes) ? codes.Single() : null);
        }).ToArray();
        start.Release(Writers);
        var results = await Task.WhenAll(writes);

        var winner = Assert.Single(results, r => r.Status == HttpStatusCode.OK);
        var losers = results.Where(r => r.Status != HttpStatusCode.OK).ToArray();
        Assert.Equal(Writers - 1, losers.Length);
        Assert.All(losers, r => Assert.Equal((HttpStatusCode.PreconditionFailed, "PreconditionFailed"), (r.Status, r.Code)));

        var stored = await _http.GetDeviceJsonAsync(id);
        var won = JsonNode.Parse(winner.Body)!;
        Assert.Equal(winner.Reason, (string?)stored["statusReason"]);
        Assert.Equal((string?)won["etag"], (string?)stored["etag"]);
        AssertSameJson(won, stored);
    }
}
