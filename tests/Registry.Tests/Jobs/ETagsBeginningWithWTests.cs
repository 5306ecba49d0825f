using System.Net;
using System.Security.Cryptography;
using Microsoft.Extensions.DependencyInjection;
using Registry.Grains.Devices;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;
using static Registry.Tests.Jobs.JobBlobsHarness;

namespace Registry.Tests.Jobs;

/// <summary>
/// A registry whose every device ETag begins with <c>W/</c>, as about one random ETag in 4,096 does: that is the device's
/// own tag, not a weak-validator prefix, so it matches as itself in bulk items, import lines and <c>If-Match</c>.
/// </summary>
public sealed class WPrefixedETagRegistryFixture : IAsyncLifetime
{
    public RegistryTestHost Host { get; private set; } = null!;

    public HttpClient Client { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Host = await RegistryTestHost.StartAsync(configure: b => b.Services.AddSingleton<DeviceETags, WPrefixedETags>());
        Client = Host.CreateClient();
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Host.DisposeAsync();
    }

    private sealed class WPrefixedETags : DeviceETags
    {
        public override string Next() => "W/" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(9))[2..];
    }
}

public sealed class ETagsBeginningWithWTests(WPrefixedETagRegistryFixture registry, AzuriteFixture azurite)
    : IClassFixture<WPrefixedETagRegistryFixture>
{
    private readonly HttpClient _http = registry.Client;

    private async Task<(string A, string B, string C)> ThreeDevicesAsync(string prefix)
    {
        var tags = new List<string>();
        foreach (var suffix in new[] { "a", "b", "c" })
        {
            var etag = (string)(await _http.CreateDeviceAsync($"{prefix}-{suffix}"))["etag"]!;
            Assert.StartsWith("W/", etag, StringComparison.Ordinal);
            tags.Add(etag);
        }
        return (tags[0], tags[1], tags[2]);
    }

    private static object[] ConditionalItems(string prefix, (string A, string B, string C) tags) =>
    [
        new { id = $"{prefix}-a", importMode = "updateIfMatchETag", eTag = tags.A, status = "disabled" },
        new { id = $"{prefix}-b", importMode = "deleteIfMatchETag", eTag = tags.B },
        new { id = $"{prefix}-c", importMode = "createOrUpdateIfMatchETag", eTag = tags.C, status = "disabled" },
    ];

    private async Task AssertAppliedAsync(string prefix)
    {
        Assert.Equal("disabled", (string)(await _http.GetDeviceJsonAsync($"{prefix}-a"))["status"]!);
        using (var gone = await _http.GetDeviceAsync($"{prefix}-b"))
        {
            Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        }
        Assert.Equal("disabled", (string)(await _http.GetDeviceJsonAsync($"{prefix}-c"))["status"]!);
    }

    [Fact]
    public async Task Import_ifMatchETag_lines_carrying_a_current_etag_that_begins_with_W_apply()
    {
        var tags = await ThreeDevicesAsync("wimp");
        var (container, sas) = await NewContainerAsync(azurite);
        await UploadLinesAsync(container, "devices.txt", ConditionalItems("wimp", tags).Select(Line));

        var job = await _http.RunJobAsync(new { type = "import", inputBlobContainerUri = sas, outputBlobContainerUri = sas });

        Assert.Equal("completed", (string)job["status"]!);
        Assert.Empty(await ReadLinesAsync(container, "importErrors.log"));
        await AssertAppliedAsync("wimp");
    }

    [Fact]
    public async Task Bulk_ifMatchETag_items_carrying_a_current_etag_that_begins_with_W_apply()
    {
        var tags = await ThreeDevicesAsync("wbulk");

        using var response = await _http.BulkAsync(Json(ConditionalItems("wbulk", tags)));

        var result = (await response.ReadJsonAsync(HttpStatusCode.OK)).AsObject();
        Assert.True((bool)result["isSuccessful"]!);
        await AssertAppliedAsync("wbulk");
    }

    [Theory]
    [InlineData("wdel-weak", "W/\"{0}\"")]
    [InlineData("wdel-quoted", "\"{0}\"")]
    [InlineData("wdel-bare", "{0}")]
    public async Task Delete_with_if_match_naming_a_current_etag_that_begins_with_W_deletes(string id, string format)
    {
        var etag = (string)(await _http.CreateDeviceAsync(id))["etag"]!;

        using var response = await _http.DeleteDeviceAsync(id, string.Format(format, etag));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        using var gone = await _http.GetDeviceAsync(id);
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }
}
