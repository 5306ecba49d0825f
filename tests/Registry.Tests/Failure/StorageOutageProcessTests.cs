using System.Net;
using Registry.Tests.Http;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Failure.FailureSteps;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Failure;

/// <summary>
/// Azurite stopped for ~10 s under writes, a silo process and a gateway process in front of it: every request answers 503
/// ServiceUnavailable (never 500, never no answer), a refused create leaves nothing behind, and when Azurite is back on the
/// same ports with the same data the registry serves again without a restart. This Azurite is the test's own, on disk.
/// </summary>
[Collection(FailureCollection.Name)]
public sealed class StorageOutageProcessTests
{
    /// <summary>How long storage stays down: the scenario, not a wait for anything.</summary>
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(10);

    [Fact(Timeout = 300_000)]
    public async Task Azurite_down_for_ten_seconds_answers_503_leaves_no_partial_create_and_recovers_by_itself()
    {
        var ct = TestContext.Current.CancellationToken;
        var location = Directory.CreateTempSubdirectory("registry-azurite-").FullName;
        var azurite = await AzuriteServer.StartAsync(location, ct);
        try
        {
            await using var cluster = new FailureCluster(azurite.ConnectionString);
            await cluster.StartSiloAsync(ct);
            var gateway = await cluster.StartGatewayAsync(ct);
            using var http = await cluster.OwnerAsync(gateway, ct);

            await using var writes = new WriteLedger(http, "write", writers: 4);
            await writes.UntilAcknowledgedAsync(20, ct);
            var acknowledgedBefore = writes.Acknowledged.Count;
            await azurite.StopAsync(ct);
            var stopped = DateTimeOffset.UtcNow;
            await UntilAsync(() => writes.Refused.Count >= 20, ct);
            var down = writes.Acknowledged.Count;
            var remaining = Outage - (DateTimeOffset.UtcNow - stopped);
            if (remaining > TimeSpan.Zero)
            {
                await Task.Delay(remaining, ct);
            }
            var refusedWhileDown = writes.Refused.Count;
            var acknowledgedWhileDown = writes.Acknowledged.Count - down;

            azurite = await azurite.RestartAsync(ct);
            writes.Mark();
            var back = DateTimeOffset.UtcNow;
            await UntilAsync(() => writes.FirstAcknowledgedSinceMark is not null, ct);
            Report($"storage down {(back - stopped).TotalSeconds:0.0} s: {refusedWhileDown} creates refused ({SiloKillTests.Describe(writes.Refusals)}), " +
                $"writes acknowledged again {(writes.FirstAcknowledgedSinceMark!.Value - back).TotalSeconds:0.0} s after Azurite answered");
            await writes.UntilAcknowledgedAsync(20, ct);
            await writes.StopAsync();

            // Once refusals came, nothing more was acknowledged while storage was down.
            Assert.Equal(0, acknowledgedWhileDown);
            Assert.True(acknowledgedBefore > 0);
            Assert.Equal([503], writes.Refusals.Keys);
            Assert.Equal(["ServiceUnavailable"], writes.RefusalCodes.Keys);
            Assert.Empty(await writes.LostAsync(http));
            // No partial state: a refused create is wholly there (read and listed) or wholly absent, and counted as listed.
            var (listed, _) = await DeviceListTests.Walk(http, 1000, retryBusy: true, ct: ct);
            var present = new List<string>();
            foreach (var id in writes.Refused)
            {
                using var response = await http.GetDeviceAsync(id);
                Assert.Contains(response.StatusCode, new[] { HttpStatusCode.OK, HttpStatusCode.NotFound });
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    present.Add(id);
                }
            }
            Assert.Equal(writes.Acknowledged.Keys.Concat(present).Order(StringComparer.Ordinal), listed.Order(StringComparer.Ordinal));
            Assert.Equal(listed.Count, (await http.StatisticsAsync()).Count("totalDeviceCount"));
        }
        finally
        {
            await azurite.DisposeAsync();
        }
    }
}
