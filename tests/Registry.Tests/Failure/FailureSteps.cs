using System.Net;
using Registry.Abstractions;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Failure;

/// <summary>What the failure tests do alike: register devices, find where they live, wait on a condition (bounded), report a figure.</summary>
public static class FailureSteps
{
    /// <summary>The index (and heartbeat monitor) partitions of every <see cref="RegistryClusterProcesses"/> cluster.</summary>
    public const int Partitions = 4;

    /// <summary>Registers <paramref name="ids"/> through bulk requests of 100.</summary>
    public static async Task RegisterAsync(HttpClient http, IEnumerable<string> ids)
    {
        await Parallel.ForEachAsync(ids.Chunk(100), new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (chunk, _) =>
        {
            using var response = await http.BulkAsync(Json(chunk.Select(id => new { id, importMode = "create" }).ToArray()));
            Assert.True((bool)(await response.ReadJsonAsync(HttpStatusCode.OK))["isSuccessful"]!);
        });
    }

    /// <summary>The silo port of the silo each device's grain is on now.</summary>
    public static async Task<Dictionary<string, int>> PlacementAsync(IClusterClient client, IEnumerable<string> ids)
    {
        var placed = new System.Collections.Concurrent.ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (id, _) =>
            placed[id] = await FailureCluster.SiloPortOf(client, client.GetGrain<IDeviceGrain>(id)));
        return new Dictionary<string, int>(placed, StringComparer.Ordinal);
    }

    /// <summary>Polls <paramref name="condition"/> until it holds; the test's token bounds the wait.</summary>
    public static async Task UntilAsync(Func<bool> condition, CancellationToken ct)
    {
        while (!condition())
        {
            await Task.Delay(100, ct);
        }
    }

    /// <summary>Polls <paramref name="condition"/> until it holds; the test's token bounds the wait.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, CancellationToken ct)
    {
        while (!await condition())
        {
            await Task.Delay(100, ct);
        }
    }

    /// <summary>
    /// Reports a measured figure in the test's output and appends it to <c>TestResults/failure-figures.txt</c> (gitignored),
    /// so a few runs give the README's numbers. A figure, never an assertion.
    /// </summary>
    public static void Report(string figure)
    {
        var line = $"{DateTimeOffset.UtcNow:yyyy-MM-ddTHH:mm:ssZ} {TestContext.Current.Test?.TestDisplayName}: {figure}";
        TestContext.Current.TestOutputHelper?.WriteLine(line);
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Registry.Orleans.sln")))
        {
            dir = dir.Parent;
        }
        if (dir is not null)
        {
            Directory.CreateDirectory(Path.Combine(dir.FullName, "TestResults"));
            File.AppendAllLines(Path.Combine(dir.FullName, "TestResults", "failure-figures.txt"), [line]);
        }
    }
}
