using System.Net;
using System.Text.Json.Nodes;
using Azure.Storage.Blobs;
using Azure.Storage.Sas;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Jobs;

/// <summary>Real Azurite containers with SAS URIs, and the job calls as the SDKs make them, for the job tests.</summary>
public static class JobBlobsHarness
{
    public const BlobContainerSasPermissions AllPermissions =
        BlobContainerSasPermissions.Read | BlobContainerSasPermissions.Write | BlobContainerSasPermissions.Delete |
        BlobContainerSasPermissions.List | BlobContainerSasPermissions.Create | BlobContainerSasPermissions.Add;

    /// <summary>A fresh container and a SAS URI for it with <paramref name="permissions"/>.</summary>
    public static Task<(BlobContainerClient Container, string SasUri)> NewContainerAsync(
        AzuriteFixture azurite, BlobContainerSasPermissions permissions = AllPermissions) =>
        NewContainerAsync(azurite.ConnectionString, permissions);

    /// <summary>A fresh container on the storage of <paramref name="connectionString"/> and a SAS URI for it.</summary>
    public static async Task<(BlobContainerClient Container, string SasUri)> NewContainerAsync(
        string connectionString, BlobContainerSasPermissions permissions = AllPermissions)
    {
        var container = new BlobServiceClient(connectionString).GetBlobContainerClient($"jobs-{Guid.NewGuid():N}");
        await container.CreateAsync();
        return (container, container.GenerateSasUri(permissions, DateTimeOffset.UtcNow.AddHours(2)).ToString());
    }

    public static async Task UploadLinesAsync(BlobContainerClient container, string blobName, IEnumerable<string> lines) =>
        await container.GetBlobClient(blobName).UploadAsync(BinaryData.FromString(string.Join("\n", lines)), overwrite: true);

    public static async Task<string[]> ReadLinesAsync(BlobContainerClient container, string blobName)
    {
        var content = (await container.GetBlobClient(blobName).DownloadContentAsync()).Value.Content.ToString();
        return content.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    public static async Task<JsonObject> CreateJobAsync(this HttpClient http, object body, HttpStatusCode expected = HttpStatusCode.OK)
    {
        using var response = await http.SendAsync(HttpMethod.Post, $"jobs/create?{ApiVersion}", Json(body));
        return (await response.ReadJsonAsync(expected)).AsObject();
    }

    public static async Task<JsonObject> GetJobAsync(this HttpClient http, string jobId)
    {
        using var response = await http.GetAsync($"jobs/{jobId}?{ApiVersion}");
        return (await response.ReadJsonAsync(HttpStatusCode.OK)).AsObject();
    }

    /// <summary>Polls the job (the only signal the API gives) until it has ended, and returns it as it ended.</summary>
    public static async Task<JsonObject> WaitForEndAsync(this HttpClient http, string jobId)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        while (true)
        {
            var job = await http.GetJobAsync(jobId);
            if ((string)job["status"]! is "completed" or "failed" or "cancelled")
            {
                return job;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(50), timeout.Token);
        }
    }

    /// <summary>Runs a job to its end and returns it; the test asserts the status.</summary>
    public static async Task<JsonObject> RunJobAsync(this HttpClient http, object body) =>
        await http.WaitForEndAsync((string)(await http.CreateJobAsync(body))["jobId"]!);

    public static string Line(object device) => Json(device);
}
