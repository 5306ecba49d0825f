using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Registry.Gateway.Apis;

/// <summary>
/// Liveness: answers 200 as long as the process serves HTTP, without touching the cluster, so an orchestrator
/// does not restart a gateway because a silo is briefly away. Needs no access right.
/// </summary>
internal static class HealthApi
{
    public static IEndpointRouteBuilder MapHealthApi(this IEndpointRouteBuilder endpoints)
    {
        // Load balancers probe with HEAD: served wherever GET is.
        endpoints.MapMethods("/healthz", [HttpMethods.Get, HttpMethods.Head], Healthz);
        return endpoints;
    }

    public static ContentHttpResult Healthz() => TypedResults.Text("Healthy", "text/plain; charset=utf-8");
}
