using Microsoft.AspNetCore.Http;
using Registry.Abstractions;
using Registry.Gateway.Apis;

namespace Registry.Tests.Gateway;

/// <summary><c>/</c> answers 400 naming the surface there is (README "The REST surface").</summary>
public sealed class RootAnswerTests
{
    /// <summary>A review (2026-12-07): the message left out six of the paths the README's table lists.</summary>
    [Fact]
    public void The_root_names_every_path_of_the_rest_surface()
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "GET";

        var refused = Assert.Throws<RegistryException>(() => UnsupportedApi.Root(context));

        foreach (var path in new[]
        {
            "/devices/{id}", "GET and POST /devices", "/statistics/devices", "/statistics/service", "POST /jobs/create", "GET /jobs",
            "/jobs/{id}", "POST /devices/{id}/messages/events", "/devices/{id}/heartbeat", "GET /heartbeat/outages",
            "GET /events/{source}", "GET /healthz", "GET /readyz", "GET /openapi/v1.json",
        })
        {
            Assert.Contains(path, refused.Message, StringComparison.Ordinal);
        }
    }
}
