using System.Buffers.Text;
using System.Globalization;
using System.Text;
using Registry.Abstractions;

namespace Registry.Grains.Registry;

/// <summary>
/// The cursor of the registry's stable order: a partition and the last id returned from it. It carries the
/// partition count so a cursor minted under another partitioning is refused rather than silently wrong.
/// </summary>
internal readonly record struct ContinuationToken(int Partition, string? AfterDeviceId)
{
    private const string Version = "1";

    public string Encode(int partitionCount)
    {
        var text = string.Create(CultureInfo.InvariantCulture, $"{Version}:{partitionCount}:{Partition}:{AfterDeviceId}");
        return Base64Url.EncodeToString(Encoding.UTF8.GetBytes(text));
    }

    public static ContinuationToken Decode(string? token, int partitionCount)
    {
        if (string.IsNullOrEmpty(token))
        {
            return new ContinuationToken(0, null);
        }
        try
        {
            var parts = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(token)).Split(':', 4);
            if (parts.Length == 4
                && parts[0] == Version
                && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var count)
                && count == partitionCount
                && int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var partition)
                && partition < partitionCount
                && (parts[3].Length == 0 || DeviceValidation.IsValidDeviceId(parts[3])))
            {
                return new ContinuationToken(partition, parts[3].Length == 0 ? null : parts[3]);
            }
        }
        catch (FormatException)
        {
        }
        throw RegistryException.Invalid("The continuation token is not valid.");
    }
}
