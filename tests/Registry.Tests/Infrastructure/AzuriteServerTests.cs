using Azure.Data.Tables;
using Azure.Storage.Blobs;

namespace Registry.Tests.Infrastructure;

/// <summary>Proves the shared Azurite really stores and returns data over the Azure SDKs the providers use.</summary>
public sealed class AzuriteServerTests(AzuriteFixture azurite)
{
    [Fact]
    public async Task Table_entity_round_trips()
    {
        var ct = TestContext.Current.CancellationToken;
        var table = new TableClient(azurite.ConnectionString, "t" + Guid.NewGuid().ToString("N"));
        await table.CreateAsync(ct);

        await table.AddEntityAsync(new TableEntity("device", "d1") { ["Status"] = "enabled", ["Generation"] = 7L }, ct);
        var read = (await table.GetEntityAsync<TableEntity>("device", "d1", cancellationToken: ct)).Value;

        Assert.Equal("enabled", read.GetString("Status"));
        Assert.Equal(7L, read.GetInt64("Generation"));
        Assert.NotEqual(default, read.ETag);
    }

    [Fact]
    public async Task Blob_round_trips()
    {
        var ct = TestContext.Current.CancellationToken;
        var container = new BlobContainerClient(azurite.ConnectionString, "c" + Guid.NewGuid().ToString("N"));
        await container.CreateAsync(cancellationToken: ct);
        Assert.StartsWith(azurite.BlobEndpoint.ToString(), container.Uri.ToString());

        var blob = container.GetBlobClient("devices.txt");
        await blob.UploadAsync(BinaryData.FromString("{\"id\":\"d1\"}\n"), ct);
        var read = (await blob.DownloadContentAsync(ct)).Value.Content.ToString();

        Assert.Equal("{\"id\":\"d1\"}\n", read);
    }
}
