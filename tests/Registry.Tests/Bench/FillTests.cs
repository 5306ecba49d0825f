using Registry.Abstractions;
using Registry.Bench.Heartbeats;

namespace Registry.Tests.Bench;

/// <summary>The benchmarks' and load harness's fill: a bulk create through the grain interface, retried as a client would.</summary>
public sealed class FillTests
{
    private static readonly string[] Ids = [.. Enumerable.Range(0, 250).Select(i => $"fill-{i:D3}")];

    [Fact]
    public async Task Items_storage_did_not_answer_in_time_are_sent_again_as_create_or_update_until_every_device_is_registered()
    {
        var registered = new HashSet<string>(StringComparer.Ordinal);
        var sent = new List<(string Id, ImportMode Mode)>();
        var unanswered = new HashSet<string>(["fill-003", "fill-150", "fill-249"], StringComparer.Ordinal);
        Task<BulkOperationResult> Apply(BulkOperation[] operations)
        {
            lock (registered)
            {
                var errors = new List<BulkOperationError>();
                foreach (var operation in operations)
                {
                    var id = operation.Device.DeviceId!;
                    sent.Add((id, operation.Mode));
                    // The first write of an unanswered item lands (after its timeout) yet answers 503; its retry meets it.
                    registered.Add(id);
                    if (unanswered.Remove(id))
                    {
                        errors.Add(new BulkOperationError(id, RegistryErrorCode.ServiceUnavailable, "storage did not answer", operation.Mode));
                    }
                }
                return Task.FromResult(new BulkOperationResult(errors));
            }
        }

        await HeartbeatBench.Fill(Apply, Ids, TextWriter.Null, TestContext.Current.CancellationToken, TimeSpan.Zero);

        Assert.Equal(Ids.Order(StringComparer.Ordinal), registered.Order(StringComparer.Ordinal));
        Assert.Equal(Ids.Length + 3, sent.Count);
        Assert.All(sent.Where(s => s.Mode == ImportMode.CreateOrUpdate), s => Assert.Contains(s.Id, new[] { "fill-003", "fill-150", "fill-249" }));
        Assert.Equal(3, sent.Count(s => s.Mode == ImportMode.CreateOrUpdate));
    }

    [Fact]
    public async Task Any_other_item_error_fails_the_fill_naming_it()
    {
        Task<BulkOperationResult> Apply(BulkOperation[] operations) => Task.FromResult(new BulkOperationResult(
            operations.Any(o => o.Device.DeviceId == "fill-042")
                ? [new BulkOperationError("fill-042", RegistryErrorCode.DeviceAlreadyExists, "exists", ImportMode.Create)]
                : []));

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => HeartbeatBench.Fill(Apply, Ids, TextWriter.Null, TestContext.Current.CancellationToken, TimeSpan.Zero));
        Assert.Contains("fill-042 DeviceAlreadyExists", e.Message);
    }

    [Fact]
    public async Task An_item_storage_never_answers_fails_the_fill_after_its_attempts()
    {
        var attempts = 0;
        Task<BulkOperationResult> Apply(BulkOperation[] operations)
        {
            if (operations.Any(o => o.Device.DeviceId == "fill-007"))
            {
                Interlocked.Increment(ref attempts);
                return Task.FromResult(new BulkOperationResult([new BulkOperationError("fill-007", RegistryErrorCode.ServiceUnavailable, "storage did not answer", operations[0].Mode)]));
            }
            return Task.FromResult(new BulkOperationResult([]));
        }

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => HeartbeatBench.Fill(Apply, Ids, TextWriter.Null, TestContext.Current.CancellationToken, TimeSpan.Zero));
        Assert.Contains("fill-007 ServiceUnavailable", e.Message);
        Assert.Equal(HeartbeatBench.FillAttempts, attempts);
    }
}
