namespace Registry.Gateway.Security;

/// <summary>
/// How the gateway checks SAS tokens. The host fills it from its settings; the policies themselves are a
/// <see cref="SharedAccessPolicies"/> singleton so that keys never sit in an options object that might be dumped.
/// </summary>
public sealed class SharedAccessOptions
{
    /// <summary>The host name tokens are issued for: the first segment of every accepted audience (<c>sr</c>).</summary>
    public string HostName { get; set; } = "localhost";

    /// <summary>
    /// Whether endpoints carrying <see cref="RequiredAccess"/> demand a token. Always true unless an operator sets
    /// <c>Registry:Authentication:Enabled=false</c>; the host then logs a warning at every start.
    /// </summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Most validated tokens kept, so a hot client costs no HMAC per request; bounded against memory growth.</summary>
    public int TokenCacheSize { get; set; } = 50_000;

    /// <summary>
    /// How long a device's status and keys read from its grain are reused. A disable or key change reaches device
    /// endpoints within this time; shorter costs a grain call per device per period.
    /// </summary>
    public TimeSpan DeviceCacheDuration { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Most devices whose status and keys are kept.</summary>
    public int DeviceCacheSize { get; set; } = 100_000;
}
