using System.Net;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Security;

/// <summary>Assertions shared by the security tests.</summary>
public static class SecurityAssert
{
    /// <summary>401 IotHubUnauthorizedAccess in the legacy shape, with the one generic text every refusal carries.</summary>
    public static async Task UnauthorizedAsync(HttpResponseMessage response, string because = "")
    {
        // Checked here first only so a failure names the case; the shape is RegistryHttp's one check.
        Assert.True(response.StatusCode == HttpStatusCode.Unauthorized,
            $"{because}: expected 401, got {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        var body = await response.AssertIotHubErrorAsync(HttpStatusCode.Unauthorized, "IotHubUnauthorizedAccess");
        Assert.Equal("ErrorCode:IotHubUnauthorizedAccess;Unauthorized", (string?)body["Message"]);
    }
}
