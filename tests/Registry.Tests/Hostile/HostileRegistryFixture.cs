using System.Net;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Hostile;

/// <summary>
/// A registry seeded once with a few known devices that update and delete cases aim at. Cases may write
/// <c>{staleEtag}</c>: an etag the sas seed really had before it was updated, so "stale" is the real thing.
/// </summary>
public sealed class HostileRegistryFixture : RegistryHostFixture
{
    public const string SasSeed = "hostile-seed-sas";
    public const string X509Seed = "hostile-seed-x509";
    public const string CaSeed = "hostile-seed-ca";

    /// <summary>The id create cases would register; it never exists.</summary>
    public const string NewId = "hostile-new";

    public const string StaleETagPlaceholder = "{staleEtag}";

    public static readonly string[] SeededIds = [SasSeed, X509Seed, CaSeed];

    public string StaleETag { get; private set; } = null!;

    public override async ValueTask InitializeAsync()
    {
        await base.InitializeAsync();
        var first = await Client.CreateDeviceAsync(SasSeed, Json(new { deviceId = SasSeed, status = "enabled", statusReason = "seeded" }));
        StaleETag = (string)first["etag"]!;
        using (var update = await Client.PutDeviceAsync(SasSeed, Json(new { deviceId = SasSeed, status = "enabled", statusReason = "updated" }), "*"))
        {
            Assert.Equal(HttpStatusCode.OK, update.StatusCode);
        }
        await Client.CreateDeviceAsync(X509Seed, Json(new
        {
            deviceId = X509Seed,
            status = "disabled",
            authentication = new { x509Thumbprint = new { primaryThumbprint = new string('a', 40), secondaryThumbprint = new string('B', 40) } },
        }));
        await Client.CreateDeviceAsync(CaSeed, Json(new { deviceId = CaSeed, authentication = new { type = "certificateAuthority" } }));
    }

    /// <summary>
    /// Sends the case (with <paramref name="sender"/>, e.g. an anonymous or weaker client from <see cref="RegistryHostFixture.Host"/>,
    /// or else this registry's owner client) and asserts it was refused and changed nothing, observed with the owner client.
    /// </summary>
    public Task AssertRefusedAndHarmlessAsync(HostileCase @case, HttpClient? sender = null) =>
        HostileRequestHarness.AssertRefusedAndHarmlessAsync(sender ?? Client, Client, Resolve(@case), SeededIds.Append(NewId));

    /// <summary>The case with its placeholders filled in from this registry.</summary>
    public HostileCase Resolve(HostileCase @case) => @case with
    {
        PathAndQuery = Fill(@case.PathAndQuery)!,
        Body = Fill(@case.Body),
        Headers = @case.Headers?.ToDictionary(h => h.Key, h => Fill(h.Value)!),
    };

    private string? Fill(string? text) => text?.Replace(StaleETagPlaceholder, StaleETag, StringComparison.Ordinal);
}
