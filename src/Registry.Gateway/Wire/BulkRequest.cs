using Registry.Abstractions;

namespace Registry.Gateway.Wire;

/// <summary>One bulk item after parsing: either an operation for the registry grain or an error the gateway already knows.</summary>
internal sealed record BulkItem(string? DeviceId, string? ModuleId, ImportMode Mode, BulkOperation? Operation, BulkErrorJson? Error);

/// <summary>
/// Turns a parsed ExportImportDevice[] into registry operations. Whole-request failures (count, unknown
/// importMode, duplicate ids) throw before anything is applied; an item whose data is wrong (bad id, unknown
/// status, a module) becomes that item's error and the other items still go to the grain.
/// </summary>
internal static class BulkRequest
{
    public static IReadOnlyList<BulkItem> Parse(IReadOnlyList<ExportImportDeviceJson?> items)
    {
        RegistryLimits.EnsureBulkCount(items.Count);
        var modes = new ImportMode[items.Count];
        for (var i = 0; i < items.Count; i++)
        {
            var item = items[i] ?? throw new RegistryException(RegistryErrorCode.IotHubFormatError, $"Bulk item {i} is null.");
            modes[i] = WireEnums.ReadImportMode(item.ImportMode)
                ?? throw RegistryException.Invalid($"importMode '{item.ImportMode}' of device '{item.Id}' is not supported.");
        }
        RegistryLimits.EnsureDistinctDeviceIds(items.Select(i => i!.Id));
        return items.Select((item, i) => ToItem(item!, modes[i])).ToArray();
    }

    /// <summary>The BulkRegistryOperationResult for <paramref name="items"/>, in request order, given the grain's errors.</summary>
    public static BulkResultJson Result(IReadOnlyList<BulkItem> items, IReadOnlyList<BulkOperationError> grainErrors)
    {
        var byId = grainErrors.ToLookup(e => e.DeviceId, StringComparer.Ordinal);
        var errors = new List<BulkErrorJson>();
        foreach (var item in items)
        {
            if (item.Error is not null)
            {
                errors.Add(item.Error);
            }
            else if (item.DeviceId is not null)
            {
                errors.AddRange(byId[item.DeviceId].Select(ToJson));
            }
        }
        var known = items.Where(i => i.Operation is not null).Select(i => i.DeviceId!).ToHashSet(StringComparer.Ordinal);
        errors.AddRange(grainErrors.Where(e => !known.Contains(e.DeviceId)).Select(ToJson));
        return new BulkResultJson(errors.Count == 0, errors, []);
    }

    /// <summary>Quotes around a bulk eTag are the C# SDK's habit; the domain compares bare tags, so they go here, at the edge.</summary>
    public static string? NormalizeETag(string? etag) =>
        string.IsNullOrWhiteSpace(etag) ? null : IfMatch.Unquote(etag);

    internal static BulkItem ToItem(ExportImportDeviceJson item, ImportMode mode)
    {
        try
        {
            if (!string.IsNullOrEmpty(item.ModuleId))
            {
                throw RegistryException.Invalid("Modules are not supported by this registry.");
            }
            DeviceValidation.EnsureValidDeviceId(item.Id);
            // A delete needs only the id; a stale or odd device body must not fail it.
            var device = mode is ImportMode.Delete or ImportMode.DeleteIfMatchETag
                ? new DeviceIdentityInput { DeviceId = item.Id! }
                : DeviceWireMapper.ToInput(item.Id!, item);
            return new BulkItem(item.Id, null, mode, new BulkOperation(mode, device, NormalizeETag(item.ETag)), null);
        }
        catch (RegistryException e)
        {
            var error = new BulkErrorJson(item.Id, item.ModuleId, e.Code.ToString(), e.Message, WireEnums.Write(mode));
            return new BulkItem(item.Id, item.ModuleId, mode, null, error);
        }
    }

    private static BulkErrorJson ToJson(BulkOperationError e) =>
        new(e.DeviceId, null, e.ErrorCode.ToString(), e.ErrorStatus, WireEnums.Write(e.Operation));
}
