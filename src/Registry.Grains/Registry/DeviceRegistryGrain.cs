using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Registry.Abstractions;

namespace Registry.Grains.Registry;

/// <summary>
/// Registry-wide reads and bulk writes. A stateless worker: each silo runs local copies, so fan-out work
/// lands wherever the caller is and no single activation becomes a bottleneck.
/// </summary>
[StatelessWorker]
public sealed class DeviceRegistryGrain(IOptions<RegistryIndexOptions> indexOptions) : Grain, IDeviceRegistryGrain
{
    public const int MaxPageSize = 1000;
    public const int MaxBulkOperations = 100;
    private const int MaxPartitionWindow = 32;

    private int Partitions => indexOptions.Value.Partitions;

    public async Task<RegistryStatistics> GetStatistics()
    {
        var counts = await Task.WhenAll(Enumerable.Range(0, Partitions)
            .Select(p => GrainFactory.GetGrain<IDeviceIndexGrain>(p).Counts()));
        long enabled = counts.Sum(c => c.Enabled), disabled = counts.Sum(c => c.Disabled);
        return new RegistryStatistics(enabled + disabled, enabled, disabled);
    }

    public async Task<DevicePage> List(int maxCount, string? continuation)
    {
        var max = maxCount is < 1 or > MaxPageSize ? MaxPageSize : maxCount;
        var cursor = ContinuationToken.Decode(continuation, Partitions);
        var devices = new List<DeviceIdentity>(Math.Min(max, 64));
        var partition = cursor.Partition;
        var after = cursor.AfterDeviceId;

        // Sparse registries have many small or empty partitions: read a growing window of them at once instead
        // of one round trip each, while a dense registry is still served by a single partition read.
        var window = 1;
        while (partition < Partitions && devices.Count < max)
        {
            var wanted = max - devices.Count;
            var first = partition;
            var pages = await Task.WhenAll(Enumerable.Range(first, Math.Min(window, Partitions - first)).Select(p =>
                GrainFactory.GetGrain<IDeviceIndexGrain>(p).Page(p == first ? after : null, wanted)));
            window = Math.Min(window * 2, MaxPartitionWindow);

            foreach (var page in pages)
            {
                var budget = max - devices.Count;
                var taken = page.Entries.Count <= budget ? page.Entries : page.Entries.Take(budget).ToArray();
                // Phantoms (ids whose device is gone) come back null and are dropped from the index as they are met.
                var read = await Task.WhenAll(taken.Select(e =>
                    GrainFactory.GetGrain<IDeviceGrain>(e.DeviceId).ReadForIndex(e.Enabled)));
                devices.AddRange(read.OfType<DeviceIdentity>());

                if (taken.Count < page.Entries.Count || page.HasMore)
                {
                    // This partition goes on: the cursor stays in it, and later pages of the window are not ours yet.
                    after = taken.Count > 0 ? taken[^1].DeviceId : after;
                    break;
                }
                partition++;
                after = null;
                if (devices.Count >= max)
                {
                    break;
                }
            }
        }

        var next = partition < Partitions ? new ContinuationToken(partition, after).Encode(Partitions) : null;
        return new DevicePage(devices, next);
    }

    public async Task<BulkOperationResult> ApplyBulk(IReadOnlyList<BulkOperation> operations)
    {
        if (operations.Count == 0)
        {
            throw RegistryException.Invalid("A bulk operation needs at least one device.");
        }
        if (operations.Count > MaxBulkOperations)
        {
            throw new RegistryException(RegistryErrorCode.TooManyDevices,
                $"A bulk operation takes at most {MaxBulkOperations} devices; {operations.Count} were sent.");
        }
        var duplicate = operations.GroupBy(o => o.Device.DeviceId, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new RegistryException(RegistryErrorCode.DeviceDefinedMultipleTimes,
                $"The device '{duplicate.Key}' is defined more than once in the request.");
        }

        // Items are independent; concurrent calls into one index partition share its writes (group commit).
        var outcomes = await Task.WhenAll(operations.Select(Apply));
        return new BulkOperationResult(outcomes.OfType<BulkOperationError>().ToArray());
    }

    private async Task<BulkOperationError?> Apply(BulkOperation operation)
    {
        var id = operation.Device.DeviceId;
        try
        {
            DeviceValidation.EnsureValidDeviceId(id);
            var device = GrainFactory.GetGrain<IDeviceGrain>(id);
            var ifMatch = MatchCondition(operation);
            switch (operation.Mode)
            {
                case ImportMode.Create:
                    await device.Create(operation.Device);
                    break;
                case ImportMode.Update or ImportMode.UpdateIfMatchETag:
                    await device.Update(operation.Device, ifMatch);
                    break;
                case ImportMode.CreateOrUpdate or ImportMode.CreateOrUpdateIfMatchETag:
                    await device.CreateOrUpdate(operation.Device, ifMatch);
                    break;
                case ImportMode.Delete or ImportMode.DeleteIfMatchETag:
                    await device.Delete(ifMatch);
                    break;
                default:
                    throw RegistryException.Invalid($"Unknown importMode {operation.Mode}.");
            }
            return null;
        }
        catch (RegistryException ex)
        {
            return new BulkOperationError(id, ex.Code, ex.Message, operation.Mode);
        }
        catch (Exception ex) when (ex is TimeoutException or OrleansMessageRejectionException or StorageUnavailableException)
        {
            // Other items may already be applied: report this one rather than failing the whole call.
            return new BulkOperationError(id, RegistryErrorCode.ServiceUnavailable, "The registry did not answer in time for this device; retry it.", operation.Mode);
        }
        catch (Exception)
        {
            return new BulkOperationError(id, RegistryErrorCode.ServerError, "The registry failed to apply this device.", operation.Mode);
        }
    }

    /// <summary>Only the *IfMatchETag modes look at the item's eTag (<c>*</c> matching any, as in If-Match); the others are unconditional.</summary>
    private static ETagCondition MatchCondition(BulkOperation operation) => operation.Mode switch
    {
        ImportMode.UpdateIfMatchETag or ImportMode.DeleteIfMatchETag or ImportMode.CreateOrUpdateIfMatchETag =>
            string.IsNullOrEmpty(operation.ETag)
                ? throw new RegistryException(RegistryErrorCode.PreconditionFailed, $"importMode {operation.Mode} needs an eTag.")
                : operation.ETag.Trim('"') is "*" ? ETagCondition.Any : ETagCondition.Of(operation.ETag.Trim('"')),
        _ => ETagCondition.Any,
    };
}
