using System.Text;

namespace Registry.Abstractions;

/// <summary>
/// Maps a device id to its index partition. The hash is FNV-1a over the UTF-8 bytes: stable
/// across processes, machines and .NET versions, unlike <c>string.GetHashCode</c>, so every silo agrees.
/// </summary>
public static class DevicePartitioner
{
    public static int PartitionOf(string deviceId, int partitionCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(partitionCount, 1);
        return (int)(Fnv1a(deviceId) % (uint)partitionCount);
    }

    public static uint Fnv1a(string value)
    {
        const uint offsetBasis = 2166136261;
        const uint prime = 16777619;
        Span<byte> buffer = stackalloc byte[512];
        var bytes = Encoding.UTF8.GetByteCount(value) <= buffer.Length
            ? buffer[..Encoding.UTF8.GetBytes(value, buffer)]
            : Encoding.UTF8.GetBytes(value);
        var hash = offsetBasis;
        foreach (var b in bytes)
        {
            hash = (hash ^ b) * prime;
        }
        return hash;
    }
}
