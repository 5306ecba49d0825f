namespace Registry.Host;

/// <summary>
/// A silo's only HTTP surface (<c>Registry:HealthPort</c>, plain HTTP), with <c>/readyz</c> (<see cref="Observability"/>):
/// <c>/healthz</c> answers 200 while the process runs, so compose and orchestrators can probe a silo that serves no
/// HTTPS. It carries no secret and needs no certificate.
/// </summary>
internal static class SiloHealth
{
    public static IEndpointRouteBuilder MapSiloHealth(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapMethods("/healthz", [HttpMethods.Get, HttpMethods.Head], () => TypedResults.Text("Healthy", "text/plain; charset=utf-8"));
        return endpoints;
    }
}
