using Registry.Abstractions;

namespace Registry.Grains.Jobs;

/// <summary>
/// After a failover, the chunks handed out but not checkpointed are applied again. A line the first attempt applied then
/// fails (a <c>create</c> finds its own device, a delete finds it gone, an ETag-conditional write finds the ETag it wrote
/// itself); such a line counts as applied when the device already is what the line asks for, so a resume adds no error
/// and no duplicate. Only chunks past the checkpoint are replays, so a genuine conflict elsewhere is still reported.
/// A <c>create</c> counts as applied only if its device was created since the job started (its generationId is its
/// creation time): a device that existed before the job, even exactly as the line describes it (the same file imported
/// again), is the line's own 409001, which a replay after a crash took for its first attempt's success.
/// </summary>
internal static class ImportReplay
{
    public static async Task<bool> AlreadyApplied(IGrainFactory grains, BulkOperation operation, BulkOperationError failure, DateTime? jobStarted = null)
    {
        // ServerError too: a retried delete whose first write landed after its timeout met the row already gone, which the
        // grain's storage reports as a conflict (a review logged 500001 for devices the import had deleted).
        if (failure.ErrorCode is not (RegistryErrorCode.DeviceAlreadyExists or RegistryErrorCode.DeviceNotFound or RegistryErrorCode.PreconditionFailed
            or RegistryErrorCode.ServerError))
        {
            return false;
        }
        var current = await grains.GetGrain<IDeviceGrain>(operation.Device.DeviceId).Get();
        return operation.Mode is ImportMode.Delete or ImportMode.DeleteIfMatchETag
            ? current is null
            : current is not null && Matches(current, operation.Device)
                && (operation.Mode != ImportMode.Create || jobStarted is not { } started || CreatedSince(current, started));
    }

    /// <summary>Whether the device was created at or after <paramref name="time"/> (an id not in this registry's form: taken as so).</summary>
    private static bool CreatedSince(DeviceIdentity device, DateTime time) =>
        !long.TryParse(device.GenerationId, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var ticks)
        || ticks >= time.Ticks;

    private static bool Matches(DeviceIdentity current, DeviceIdentityInput wanted) =>
        current.Status == wanted.Status
        && current.StatusReason == wanted.StatusReason
        && current.Capabilities.IotEdge == (wanted.Capabilities?.IotEdge ?? false)
        && (wanted.DeviceScope is null || wanted.DeviceScope == current.DeviceScope)
        && (wanted.ParentScopes is null || wanted.ParentScopes.SequenceEqual(current.ParentScopes))
        && (wanted.Authentication is null || SameCredentials(current.Authentication, wanted.Authentication));

    // Keys a line leaves out are generated: any generated keys match it.
    private static bool SameCredentials(AuthenticationMechanism current, AuthenticationMechanism wanted) =>
        (wanted.SymmetricKey is null || wanted.SymmetricKey == current.SymmetricKey)
        && (wanted.X509Thumbprint is null || string.Equals(wanted.X509Thumbprint.PrimaryThumbprint, current.X509Thumbprint?.PrimaryThumbprint, StringComparison.OrdinalIgnoreCase)
            && string.Equals(wanted.X509Thumbprint.SecondaryThumbprint, current.X509Thumbprint?.SecondaryThumbprint, StringComparison.OrdinalIgnoreCase));
}
