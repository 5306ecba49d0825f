using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Registry.Abstractions.Diagnostics;
using Registry.Gateway.Errors;

namespace Registry.Gateway;

/// <summary>
/// Counts every answered registry request in <see cref="RegistryMetrics.Operations"/> by route, status and IoT Hub error
/// code. Outside the whole pipeline, like <see cref="HeadResponses"/>, so refusals of authentication and throttling count
/// with the answers of handlers; only endpoints that carry a <see cref="RequiredAccess"/> are registry operations
/// (liveness, metrics and unknown paths are not).
/// </summary>
internal sealed class OperationMetrics : IStartupFilter
{
    /// <summary>Boxed once per status code, so counting a request allocates nothing for its tags.</summary>
    private static readonly object[] Statuses = Enumerable.Range(0, 600).Select(s => (object)s).ToArray();

    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use(CountAsync);
        next(app);
    };

    private static async Task CountAsync(HttpContext context, RequestDelegate next)
    {
        var threw = true;
        try
        {
            await next(context);
            threw = false;
        }
        finally
        {
            // The endpoint routing chose is known once the pipeline returns; a request that threw is answered 500 by the server.
            if (RegistryMetrics.Operations.Enabled
                && context.GetEndpoint() is RouteEndpoint { RoutePattern.RawText: { } route } endpoint
                && endpoint.Metadata.GetMetadata<RequiredAccess>() is not null)
            {
                var status = threw ? StatusCodes.Status500InternalServerError : context.Response.StatusCode;
                var tags = new System.Diagnostics.TagList
                {
                    { RegistryMetrics.Tags.Method, context.Request.Method },
                    { RegistryMetrics.Tags.Route, route },
                    { RegistryMetrics.Tags.Status, status is >= 0 and < 600 ? Statuses[status] : status },
                };
                if (context.Response.Headers[LegacyError.ErrorCodeHeader] is [{ } code])
                {
                    tags.Add(RegistryMetrics.Tags.Error, code);
                }
                RegistryMetrics.Operations.Add(1, tags);
            }
        }
    }
}
