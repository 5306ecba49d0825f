using Orleans.Concurrency;
using System.Security.Cryptography;
using System.Text;

namespace Registry.Abstractions;

/// <summary>
/// What the device grain answers to a device-side call (connect, message, ping): whether the device may go on.
/// The device grain is the authority: once a disable, delete or re-key is acknowledged, every later call answers a
/// refusal, whatever an edge has cached.
/// </summary>
[GenerateSerializer, Alias("registry.DeviceAccess")]
public enum DeviceAccess
{
    /// <summary>The device is registered, enabled, and the credential the edge checked is still one of its keys.</summary>
    Granted = 0,
    /// <summary>No device is registered under this id (never created, or deleted).</summary>
    NotRegistered = 1,
    /// <summary>The device's status is disabled.</summary>
    Disabled = 2,
    /// <summary>The key the edge validated the device's token with is no longer one of the device's keys.</summary>
    KeyRevoked = 3,
    /// <summary>The session named in the call is not the device's current one (a newer connection replaced it).</summary>
    SessionReplaced = 4,
    /// <summary>
    /// The session is unknown to this activation (it was re-activated after a failure): the edge calls
    /// <see cref="IDeviceGrain.Connect"/> again with the same session, then goes on. To <see cref="IDeviceGrain.Reattach"/>:
    /// the session has ended at the grain already (its Disconnect came first), so it is not taken again.
    /// </summary>
    SessionUnknown = 5,
}

/// <summary>How a device reached the registry; only MQTT sessions change <c>connectionState</c> (docs/wire-contract.md).</summary>
[GenerateSerializer, Alias("registry.DeviceTransport")]
public enum DeviceTransport
{
    /// <summary>The HTTPS device endpoint: no session, messages only.</summary>
    Https = 0,
    /// <summary>An MQTT 3.1.1 session over TLS.</summary>
    Mqtt = 1,
    /// <summary>A client app calling the grain interface (<see cref="IDeviceGrain.Heartbeat"/>, <see cref="IHeartbeatBatchGrain"/>).</summary>
    Grain = 2,
}

/// <summary>Why an edge is told to close a device's session.</summary>
[GenerateSerializer, Alias("registry.SessionCloseReason")]
public enum SessionCloseReason
{
    /// <summary>The device was deleted.</summary>
    Deleted = 0,
    /// <summary>The device was disabled.</summary>
    Disabled = 1,
    /// <summary>The device's keys changed and the session's key is no longer one of them.</summary>
    KeyRevoked = 2,
    /// <summary>A newer connection with the same device id replaced this one, as IoT Hub does.</summary>
    Replaced = 3,
    /// <summary>The SAS token the session connected with expired (its <c>se</c> plus the clock skew IoT Hub allows), as IoT Hub ends it.</summary>
    TokenExpired = 4,
    /// <summary>
    /// The session's token was signed by a shared access policy that no longer grants it DeviceConnect: the policy was
    /// removed, lost the right, or had its key regenerated, as its tokens already checked are refused on HTTPS.
    /// </summary>
    PolicyRevoked = 5,
}

/// <summary>
/// Implemented by each edge process (one object per process, not per connection): the device grain calls it to close a
/// session it no longer accepts. One-way: a dead edge never blocks a registry write.
/// </summary>
[Alias("registry.IDeviceSessionObserver")]
public interface IDeviceSessionObserver : IGrainObserver
{
    /// <summary>Close <paramref name="sessionId"/> of <paramref name="deviceId"/> if this edge still holds it.</summary>
    [Alias("Close"), OneWay]
    Task Close(string deviceId, Guid sessionId, SessionCloseReason reason);
}

/// <summary>An MQTT session opening at an edge, after the edge validated the device's token.</summary>
/// <param name="SessionId">New for every connection; names it in later calls.</param>
/// <param name="Observer">Where to send <see cref="IDeviceSessionObserver.Close"/>; null when the caller cannot be told.</param>
/// <param name="KeyFingerprint">
/// <see cref="DeviceKeyFingerprint.Of"/> of the device key that signed the token, or null for a policy-signed token
/// (then only registration and status are checked).
/// </param>
[GenerateSerializer, Immutable, Alias("registry.DeviceSession")]
public sealed record DeviceSession(
    [property: Id(0)] Guid SessionId,
    [property: Id(1)] IDeviceSessionObserver? Observer,
    [property: Id(2)] string? KeyFingerprint);

/// <summary>
/// One device-to-cloud call as an edge saw it: every message is a heartbeat (docs/wire-contract.md). Telemetry bodies
/// are counted, never stored.
/// </summary>
/// <param name="Transport">Where it came from.</param>
/// <param name="SessionId">The MQTT session it arrived on; null for HTTPS and client apps.</param>
/// <param name="KeyFingerprint">As in <see cref="DeviceSession.KeyFingerprint"/>.</param>
/// <param name="Messages">How many messages the call carries (a batch counts each); 0 for a keep-alive ping.</param>
[GenerateSerializer, Immutable, Alias("registry.DeviceMessage")]
public sealed record DeviceMessage(
    [property: Id(0)] DeviceTransport Transport,
    [property: Id(1)] Guid? SessionId,
    [property: Id(2)] string? KeyFingerprint,
    [property: Id(3)] int Messages);

/// <summary>
/// A short, stable, non-reversible name for a device key, so an edge can tell the device grain which key it checked
/// without sending the key. Both sides compute it the same way.
/// </summary>
public static class DeviceKeyFingerprint
{
    /// <summary>The first 16 hex digits of SHA-256 over the key's UTF-8 text.</summary>
    public static string Of(string key)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(key), hash);
        return Convert.ToHexString(hash[..8]);
    }
}
