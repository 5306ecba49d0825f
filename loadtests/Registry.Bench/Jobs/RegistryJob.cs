using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Azure.Storage.Sas;

namespace Registry.Bench.Jobs;

/// <summary>
/// An import or export job driven as the service SDKs drive one: <c>POST /jobs/create</c>, then <c>GET /jobs/{id}</c>
/// until it ends. A job that outlives its limit, or whose caller gives up, is cancelled (<c>DELETE /jobs/{id}</c>).
/// </summary>
internal static class RegistryJob
{
    private const string ApiVersion = "api-version=2021-04-12";

    /// <summary>
    /// How long the cancel of a job that did not end is waited for. The registry answers a cancel once the job's chunks in
    /// flight have stopped, and a chunk on overloaded storage takes minutes: a SIGTERM during a 1M import into Azurite
    /// waited on that answer, the harness's promise of a prompt partial report broken. Past this wait the job is left to
    /// the registry (the load harness stops its own registry next).
    /// </summary>
    public static readonly TimeSpan CancelWait = TimeSpan.FromSeconds(30);

    /// <summary>A SAS URI an import reads its input through (read, list), valid 12 hours.</summary>
    public static string InputSas(Azure.Storage.Blobs.BlobContainerClient container) =>
        container.GenerateSasUri(BlobContainerSasPermissions.Read | BlobContainerSasPermissions.List, DateTimeOffset.UtcNow.AddHours(12)).ToString();

    /// <summary>A SAS URI a job writes its output through (an export's devices.txt, an import's importErrors.log), valid 12 hours.</summary>
    public static string OutputSas(Azure.Storage.Blobs.BlobContainerClient container) =>
        container.GenerateSasUri(BlobContainerSasPermissions.Read | BlobContainerSasPermissions.Write | BlobContainerSasPermissions.Create
            | BlobContainerSasPermissions.Add | BlobContainerSasPermissions.List | BlobContainerSasPermissions.Delete, DateTimeOffset.UtcNow.AddHours(12)).ToString();

    /// <summary>Runs the job to its end and returns its last status document; <paramref name="progress"/> sees each poll's.</summary>
    public static async Task<JsonObject> RunAsync(HttpClient http, string baseAddress, JsonObject body, TimeSpan limit, Action<JsonObject, TimeSpan>? progress, CancellationToken cancel,
        TimeProvider? time = null, Action<string>? cancelled = null)
    {
        var stopwatch = Stopwatch.StartNew();
        using var created = await http.PostAsync($"{baseAddress}/jobs/create?{ApiVersion}",
            new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"), cancel);
        var job = await created.Content.ReadFromJsonAsync<JsonObject>(cancel) ?? throw new InvalidOperationException("the job was created without a body");
        if (!created.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"{body["type"]} job refused: {(int)created.StatusCode} {job.ToJsonString()}");
        }
        var id = (string)job["jobId"]!;
        try
        {
            while ((string)job["status"]! is not ("completed" or "failed" or "cancelled") && stopwatch.Elapsed <= limit)
            {
                await Task.Delay(200, cancel); // the API's only signal is its status; polled as the SDKs do
                job = await http.GetFromJsonAsync<JsonObject>($"{baseAddress}/jobs/{id}?{ApiVersion}", cancel) ?? job;
                progress?.Invoke(job, stopwatch.Elapsed);
            }
        }
        finally
        {
            if ((string)job["status"]! is not ("completed" or "failed" or "cancelled"))
            {
                using var bounded = new CancellationTokenSource(CancelWait, time ?? TimeProvider.System);
                // What the caller reports of a job it gave up on: how far it had gone, and whether the cancel was taken (a
                // stopped run's report said nothing of either, a review 2026-12-07).
                var seen = $"{body["type"]} job {id} given up at {job["progress"]?.ToString() ?? "?"} % ({job["status"]})";
                try
                {
                    using var answer = await http.DeleteAsync($"{baseAddress}/jobs/{id}?{ApiVersion}", bounded.Token);
                    cancelled?.Invoke($"{seen}; its cancel (DELETE /jobs/{id}) answered {(int)answer.StatusCode}");
                }
                catch (OperationCanceledException) when (bounded.IsCancellationRequested)
                {
                    // Not answered within CancelWait: the job goes on in the registry until its chunks stop.
                    cancelled?.Invoke($"{seen}; its cancel (DELETE /jobs/{id}) was not answered within {CancelWait.TotalSeconds:0} s, so it may still run in the registry");
                }
                catch (HttpRequestException e)
                {
                    cancelled?.Invoke($"{seen}; its cancel (DELETE /jobs/{id}) could not be sent ({e.Message})");
                }
            }
        }
        return job;
    }

    /// <summary>
    /// Writes an import file of <paramref name="devices"/> lines as the SDK's ExportImportDevice serializes them (create
    /// mode, SAS keys given, as an export carries them), ids <c>PREFIX0000000</c> on; returns its size in bytes.
    /// </summary>
    public static long WriteDevices(string path, int devices, string prefix = "bench-device-")
    {
        using var writer = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 20);
        var key = new byte[32];
        for (var i = 0; i < devices; i++)
        {
            RandomNumberGenerator.Fill(key);
            var primary = Convert.ToBase64String(key);
            RandomNumberGenerator.Fill(key);
            var secondary = Convert.ToBase64String(key);
            writer.Write($"{{\"id\":\"{prefix}{i:D7}\",\"importMode\":\"create\",\"status\":\"enabled\",\"authentication\":{{\"type\":\"sas\",\"symmetricKey\":{{\"primaryKey\":\"{primary}\",\"secondaryKey\":\"{secondary}\"}}}}}}\n");
        }
        writer.Flush();
        return writer.BaseStream.Length;
    }
}
