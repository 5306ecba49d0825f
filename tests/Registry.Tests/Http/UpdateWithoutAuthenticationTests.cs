using System.Net;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Http;

/// <summary>
/// An update without authentication keeps the device's credentials of any kind: an X.509 device must not be turned
/// into a SAS device with freshly minted keys nobody asked for.
/// </summary>
public sealed class UpdateWithoutAuthenticationTests(RegistryHostFixture registry) : IClassFixture<RegistryHostFixture>
{
    private readonly HttpClient _http = registry.Client;

    [Fact]
    public async Task An_update_without_authentication_keeps_a_self_signed_device_self_signed()
    {
        var created = await _http.CreateDeviceAsync("x509-keeps", Json(new
        {
            deviceId = "x509-keeps",
            authentication = new { x509Thumbprint = new { primaryThumbprint = new string('a', 40), secondaryThumbprint = new string('b', 40) } },
        }));

        using var response = await _http.PutDeviceAsync("x509-keeps", Json(new { deviceId = "x509-keeps", statusReason = "note" }), "*");

        var updated = await response.ReadDeviceAsync(HttpStatusCode.OK);
        AssertSameJson(created["authentication"], updated["authentication"]);
    }
}
