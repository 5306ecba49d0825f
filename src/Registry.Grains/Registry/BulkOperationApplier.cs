using Microsoft.Extensions.Logging;
using Registry.Abstractions;

namespace Registry.Grains.Registry;

/// <summary>
/// Applies one bulk item (an <see cref="ImportMode"/> and a device) to its device grain and turns any failure
/// into that item's error, so the other items of the call still go ahead (docs/invariants.md §9). What an
/// importMode means is decided here only.
/// </summary>
public sealed partial class BulkOperationApplier(Func<string, IDeviceGrain> devices, ILogger logger)
{
    /// <summary>Null when the item was applied, else why not.</summary>
    public async Task<BulkOperationError?> Apply(BulkOperation operation) => (await ApplyToDevice(operation)).Error;

    /// <summary>As <see cref="Apply"/>, with the device as the item left it (null after a delete, or when it failed).</summary>
    public async Task<(BulkOperationError? Error, DeviceIdentity? Device)> ApplyToDevice(BulkOperation operation)
    {
        var id = operation.Device.DeviceId;
        try
        {
            DeviceValidation.EnsureValidDeviceId(id);
            var device = devices(id);
            var ifMatch = MatchCondition(operation);
            DeviceIdentity? result = null;
            switch (operation.Mode)
            {
                case ImportMode.Create:
                    result = await device.Create(operation.Device);
                    break;
                case ImportMode.Update or ImportMode.UpdateIfMatchETag:
                    result = await device.Update(operation.Device, ifMatch);
                    break;
                case ImportMode.CreateOrUpdate or ImportMode.CreateOrUpdateIfMatchETag:
                    result = await device.CreateOrUpdate(operation.Device, ifMatch);
                    break;
                case ImportMode.Delete or ImportMode.DeleteIfMatchETag:
                    await device.Delete(ifMatch);
                    break;
                default:
                    throw RegistryException.Invalid($"Unknown importMode {operation.Mode}.");
            }
            return (null, result);
        }
        catch (RegistryException ex)
        {
            return (new BulkOperationError(id, ex.Code, ex.Message, operation.Mode), null);
        }
        // OperationCanceledException: the grain directory cancels a lookup while the cluster's silos change (a silo being
        // declared dead); the item did not reach its device, and an import applies it again like any unanswered line.
        // "No active nodes are compatible with grain …": no active silo could place the device just then (the only silo is
        // stopping, or the cluster's silos are changing); a retry can succeed (hostile review, 2026-12-06: a stop during an
        // import logged 249 such items as errors with their stacks and answered them ServerError).
        catch (Exception ex) when (ex is TimeoutException or OrleansMessageRejectionException or StorageUnavailableException or OperationCanceledException
            || IsPlacementUnavailable(ex))
        {
            // Other items may already be applied: report this one rather than failing the whole call.
            LogItemUnavailable(logger, operation.Mode, id, ex.GetType().Name, ex.Message);
            // Storage's own text where storage said it (a bulk item said "did not answer in time" while storage refused
            // connections and every other request said so: hostile review, 2026-12-04).
            var text = ex is StorageUnavailableException ? ex.Message : "The registry did not answer in time for this device. Retry it.";
            return (new BulkOperationError(id, RegistryErrorCode.ServiceUnavailable, text, operation.Mode), null);
        }
        catch (Exception ex)
        {
            LogItemFailed(logger, ex, operation.Mode, id);
            return (new BulkOperationError(id, RegistryErrorCode.ServerError, "The registry failed to apply this device.", operation.Mode), null);
        }
    }

    /// <summary>Orleans' placement found no active silo for the grain: a plain <see cref="OrleansException"/>, told only by its text.</summary>
    private static bool IsPlacementUnavailable(Exception ex) =>
        ex.GetType() == typeof(OrleansException) && ex.Message.StartsWith("No active nodes are compatible with grain", StringComparison.Ordinal);

    /// <summary>
    /// Only the *IfMatchETag modes look at the item's eTag (<c>*</c> matching any, as in If-Match); the others are
    /// unconditional. The eTag arrives bare: the gateway strips quotes at the edge. Without an eTag an update or delete
    /// fails the item; <c>createOrUpdateIfMatchETag</c> still creates an absent device (IoT Hub registers a device that
    /// does not exist in that mode) and matches no present one, as an If-Match naming no tag.
    /// </summary>
    /// <summary>Whether the operation's eTag condition holds for a device stored with <paramref name="etag"/> (an eTag missing where one is needed: never).</summary>
    internal static bool Matches(BulkOperation operation, string etag)
    {
        try
        {
            return MatchCondition(operation).Matches(etag);
        }
        catch (RegistryException)
        {
            return false;
        }
    }

    private static ETagCondition MatchCondition(BulkOperation operation) => operation.Mode switch
    {
        ImportMode.CreateOrUpdateIfMatchETag when string.IsNullOrEmpty(operation.ETag) => ETagCondition.None,
        ImportMode.UpdateIfMatchETag or ImportMode.DeleteIfMatchETag or ImportMode.CreateOrUpdateIfMatchETag =>
            string.IsNullOrEmpty(operation.ETag)
                ? throw new RegistryException(RegistryErrorCode.PreconditionFailed, $"importMode {operation.Mode} needs an eTag.")
                : operation.ETag is "*" ? ETagCondition.Any : ETagCondition.Of(operation.ETag),
        _ => ETagCondition.Any,
    };

    /// <summary>
    /// Without the exception's stack: what storage said is logged where it was said (the storage bound's 4009), and an
    /// import meeting slow storage logged a stack trace per line (277 MB of silo logs for one 100k import, 2026-12-05).
    /// </summary>
    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "Bulk item {Mode} of device {DeviceId} was not answered in time ({ExceptionType}: {Reason})")]
    private static partial void LogItemUnavailable(ILogger logger, ImportMode mode, string deviceId, string exceptionType, string reason);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Error, Message = "Bulk item {Mode} of device {DeviceId} failed")]
    private static partial void LogItemFailed(ILogger logger, Exception exception, ImportMode mode, string deviceId);
}
