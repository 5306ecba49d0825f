namespace Registry.Gateway.Mqtt;

/// <summary>
/// The CONNECT username IoT Hub expects: <c>{HostName}/{deviceId}/?api-version=…</c> (the SDKs add
/// <c>&amp;DeviceClientType=…</c>; docs/wire-contract.md §9.2). The host name compares case-insensitively, the id exactly.
/// </summary>
internal static class MqttUserName
{
    /// <summary>Whether <paramref name="userName"/> names <paramref name="deviceId"/> on <paramref name="hostName"/>.</summary>
    public static bool Names(string? userName, string hostName, string deviceId)
    {
        if (userName is null
            || userName.Length < hostName.Length + deviceId.Length + 2
            || !userName.StartsWith(hostName, StringComparison.OrdinalIgnoreCase)
            || userName[hostName.Length] != '/')
        {
            return false;
        }
        var rest = userName.AsSpan(hostName.Length + 1);
        if (!rest.StartsWith(deviceId, StringComparison.Ordinal))
        {
            return false;
        }
        // After the id: its closing slash, then nothing or the query ("/?api-version=…"; older SDKs omit the '?').
        rest = rest[deviceId.Length..];
        return rest.Length > 0 && rest[0] == '/' && (rest.Length == 1 || rest[1] == '?' || rest[1..].StartsWith("api-version=", StringComparison.Ordinal));
    }
}
