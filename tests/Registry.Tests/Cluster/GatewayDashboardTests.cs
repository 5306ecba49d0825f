using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Text;
using System.Text.Json.Nodes;
using Registry.Grains.Devices;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Cluster;

/// <summary>
/// The Orleans Dashboard of a cluster: <c>Registry:Dashboard:Enabled</c> on every process, the silos collect what it
/// shows and show nothing themselves (no TLS port, no password needed), a gateway shows it on its HTTPS port behind its
/// credential, with the cluster's data coming from the silos through the gateway's Orleans client.
/// </summary>
public sealed class GatewayDashboardTests(AzuriteFixture azurite)
{
    private const string Password = "a-long-dashboard-password";

    [Fact(Timeout = 180_000)]
    public async Task A_gateway_in_front_of_a_silo_serves_the_clusters_dashboard_data_with_the_credential_and_401_without()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var cluster = new RegistryClusterProcesses(azurite.ConnectionString, ["--Registry:Dashboard:Enabled=true"]);
        var siloPort = FreePorts.Take(1)[0];
        // The silo is not given the password: it only collects.
        await cluster.StartSiloAsync(ct, $"--Registry:SiloPort={siloPort}");
        var gateway = await cluster.StartGatewayAsync(ct, observed: false, $"--Registry:Dashboard:Password={Password}");
        using var anonymous = Https(gateway, authorization: null);
        using var wrong = Https(gateway, Basic("operator", "not-the-dashboard-password"));
        using var operatorClient = Https(gateway, Basic("operator", Password));

        foreach (var path in new[] { "dashboard/DashboardCounters", "dashboard/ClusterStats", "dashboard/GrainTypes" })
        {
            using var refused = await anonymous.GetAsync(path, ct);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Equal("Basic", Assert.Single(refused.Headers.WwwAuthenticate).Scheme);
            Assert.Equal(HttpStatusCode.Unauthorized, (await wrong.GetAsync(path, ct)).StatusCode);
        }

        // The grain types the silo hosts: the gateway has no grains of its own.
        var types = await GetJsonAsync(operatorClient, "dashboard/GrainTypes", ct);
        Assert.Contains(typeof(DeviceGrain).FullName, types.AsArray().Select(t => (string?)t));
        Assert.IsType<JsonObject>(await GetJsonAsync(operatorClient, "dashboard/ClusterStats", ct));
        // The counters are refreshed at most once a second, on a query: asked until they show the silo, each answer a 200.
        var counters = await GetJsonAsync(operatorClient, "dashboard/DashboardCounters", ct);
        using var guard = CancellationTokenSource.CreateLinkedTokenSource(ct);
        guard.CancelAfter(Signals.Guard);
        while ((int)counters["totalActiveHostCount"]! == 0)
        {
            await Task.Delay(200, guard.Token); // the dashboard page's own polling, faster
            counters = await GetJsonAsync(operatorClient, "dashboard/DashboardCounters", guard.Token);
        }
        Assert.Equal(1, (int)counters["totalActiveHostCount"]!);
        var host = Assert.Single(counters["hosts"]!.AsArray())!;
        Assert.Equal("Active", (string?)host["status"]);
        Assert.Contains($":{siloPort.ToString(CultureInfo.InvariantCulture)}@", (string?)host["siloAddress"], StringComparison.Ordinal);
    }

    [Fact(Timeout = 120_000)]
    public async Task A_silo_with_the_dashboard_enabled_starts_without_its_password_and_shows_no_dashboard_on_its_plain_port()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var cluster = new RegistryClusterProcesses(azurite.ConnectionString, ["--Registry:Dashboard:Enabled=true"]);
        var healthPort = FreePorts.Take(1)[0];

        await cluster.StartSiloAsync(ct, $"--Registry:HealthPort={healthPort}");

        using var plain = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{healthPort.ToString(CultureInfo.InvariantCulture)}/") };
        Assert.Equal(HttpStatusCode.OK, (await plain.GetAsync("healthz", ct)).StatusCode);
        using var request = new HttpRequestMessage(HttpMethod.Get, "dashboard/DashboardCounters");
        request.Headers.Authorization = Basic("operator", Password);
        Assert.Equal(HttpStatusCode.NotFound, (await plain.SendAsync(request, ct)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await plain.GetAsync("dashboard/", ct)).StatusCode);
    }

    private static AuthenticationHeaderValue Basic(string user, string password) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));

    /// <summary>An HttpClient to the gateway's HTTPS port, trusting only its CA, sending <paramref name="authorization"/> if any.</summary>
    private static HttpClient Https(GatewayProcess gateway, AuthenticationHeaderValue? authorization)
    {
        var handler = new SocketsHttpHandler { SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = (_, c, _, _) => gateway.Trusts(c) } };
        var http = new HttpClient(handler) { BaseAddress = new Uri($"https://127.0.0.1:{gateway.HttpsPort.ToString(CultureInfo.InvariantCulture)}/") };
        http.DefaultRequestHeaders.Authorization = authorization;
        return http;
    }

    private static async Task<JsonNode> GetJsonAsync(HttpClient http, string path, CancellationToken ct)
    {
        using var response = await http.GetAsync(path, ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode} {body}");
        return JsonNode.Parse(body)!;
    }
}
