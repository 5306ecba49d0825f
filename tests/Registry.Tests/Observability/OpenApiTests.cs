using System.Net;
using System.Text.Json.Nodes;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Observability;

/// <summary>The OpenAPI document of the REST surface at <c>/openapi/v1.json</c>, readable without credentials.</summary>
public sealed class OpenApiTests(RegistryHostFixture registry) : IClassFixture<RegistryHostFixture>
{
    [Fact]
    public async Task The_openapi_document_lists_the_device_routes_with_their_methods()
    {
        using var http = registry.Host.CreateAnonymousClient();

        using var response = await http.GetAsync("openapi/v1.json");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var paths = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["paths"]!.AsObject();
        Assert.Equal(["delete", "get", "head", "put"], Methods(paths, "/devices/{id}"));
        Assert.Equal(["get", "head", "post"], Methods(paths, "/devices"));
        Assert.Contains("/devices/{id}/messages/events", paths.Select(p => p.Key));
        Assert.Contains("/jobs/{jobId}", paths.Select(p => p.Key));
    }

    /// <summary>
    /// The probes are the operator's, not the REST surface: the document listed /healthz but not /readyz, though every
    /// port that serves the one serves the other. Both are described in the README's endpoint table instead.
    /// </summary>
    [Fact]
    public async Task The_openapi_document_lists_neither_probe_though_both_are_served()
    {
        using var http = registry.Host.CreateAnonymousClient();

        var paths = JsonNode.Parse(await http.GetStringAsync("openapi/v1.json"))!["paths"]!.AsObject().Select(p => p.Key).ToList();

        Assert.DoesNotContain("/healthz", paths);
        Assert.DoesNotContain("/readyz", paths);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("readyz")).StatusCode);
    }

    /// <summary>A review found <c>POST /readyz</c> answered 200 and <c>HEAD /openapi/v1.json</c> 405.</summary>
    [Theory]
    [InlineData("healthz")]
    [InlineData("readyz")]
    [InlineData("openapi/v1.json")]
    public async Task The_probes_and_the_openapi_document_answer_get_and_head_and_refuse_other_methods_with_405(string path)
    {
        using var http = registry.Host.CreateAnonymousClient();

        foreach (var method in new[] { HttpMethod.Get, HttpMethod.Head })
        {
            using var response = await http.SendAsync(new HttpRequestMessage(method, path));
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{method} {path}: {(int)response.StatusCode}");
        }
        foreach (var method in new[] { HttpMethod.Post, HttpMethod.Put, HttpMethod.Delete, HttpMethod.Patch })
        {
            using var response = await http.SendAsync(new HttpRequestMessage(method, path) { Content = new StringContent("{}") });
            Assert.True(response.StatusCode == HttpStatusCode.MethodNotAllowed, $"{method} {path}: {(int)response.StatusCode}");
        }
    }

    private static string[] Methods(JsonObject paths, string path) =>
        [.. Assert.IsType<JsonObject>(paths[path], exactMatch: false).Select(m => m.Key).Order(StringComparer.Ordinal)];
}
