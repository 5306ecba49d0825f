using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Registry.Host;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Observability;

/// <summary>
/// The Orleans Dashboard: absent unless <c>Registry:Dashboard:Enabled</c>, and then only for the configured credential,
/// over HTTPS (never on the plain management port).
/// </summary>
public sealed class DashboardTests
{
    private const string Password = "a-long-dashboard-password";

    [Fact]
    public async Task The_dashboard_is_off_by_default_even_for_the_owner()
    {
        await using var host = await RegistryTestHost.StartAsync();
        using var anonymous = host.CreateAnonymousClient();
        using var owner = host.CreateClient();

        Assert.Equal(HttpStatusCode.NotFound, (await anonymous.GetAsync("dashboard/")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await owner.GetAsync("dashboard/")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await owner.GetAsync("dashboard/ClusterStats")).StatusCode);
    }

    [Fact]
    public async Task An_enabled_dashboard_refuses_requests_without_the_configured_credential_and_serves_those_with_it()
    {
        var management = FreePorts.Take(1)[0];
        await using var host = await RegistryTestHost.StartAsync(new Dictionary<string, string?>
        {
            ["Registry:Dashboard:Enabled"] = "true",
            ["Registry:Dashboard:Password"] = Password,
            ["Registry:Observability:Port"] = management.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        using var http = host.CreateAnonymousClient();

        using var anonymous = await http.GetAsync("dashboard/");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal("Basic", Assert.Single(anonymous.Headers.WwwAuthenticate).Scheme);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Get(http, "dashboard/ClusterStats", "operator", "wrong-password-of-some-length")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Get(http, "dashboard/ClusterStats", "someone", Password)).StatusCode);
        // A registry SAS token is not the dashboard's credential, not even the owner's.
        using var owner = host.CreateClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await owner.GetAsync("dashboard/ClusterStats")).StatusCode);

        using var page = await Get(http, "dashboard/", "operator", Password);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        // Not over plain HTTP, where the password would travel in clear.
        using var plain = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{management}/") };
        Assert.Equal(HttpStatusCode.NotFound, (await Get(plain, "dashboard/", "operator", Password)).StatusCode);
    }

    [Fact]
    public async Task Enabling_the_dashboard_without_a_password_refuses_the_start()
    {
        var refusal = await Assert.ThrowsAsync<RegistryStartupException>(() => RegistryTestHost.StartAsync(new Dictionary<string, string?>
        {
            ["Registry:Dashboard:Enabled"] = "true",
        }));
        Assert.Contains("Registry:Dashboard:Password", refusal.Message, StringComparison.Ordinal);
    }

    private static Task<HttpResponseMessage> Get(HttpClient http, string path, string user, string password)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
        return http.SendAsync(request);
    }
}
