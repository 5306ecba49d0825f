using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Registry.Gateway;

/// <summary>
/// HEAD answers as GET without a body (RFC 9110 §9.3.2). The HEAD endpoints reuse the GET handlers, which write a
/// body; Kestrel drops it on HTTP/1.1 but sends it as DATA frames on HTTP/2, which clients reset as a stream
/// PROTOCOL_ERROR. So, for every HEAD and ahead of the whole pipeline (the 401 of authentication included), the
/// response body goes to a null stream: status and headers stay those of the GET.
/// </summary>
internal sealed class HeadResponses : IStartupFilter
{
    /// <summary>The methods of an endpoint that reads: HEAD wherever GET is served.</summary>
    public static readonly string[] GetAndHead = [HttpMethods.Get, HttpMethods.Head];

    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use(DiscardBodyOfHead);
        next(app);
    };

    private static Task DiscardBodyOfHead(HttpContext context, RequestDelegate next)
    {
        if (HttpMethods.IsHead(context.Request.Method) && context.Features.Get<IHttpResponseBodyFeature>() is { } body)
        {
            // The prior feature still starts the response, so headers go out as they would for the GET.
            context.Features.Set<IHttpResponseBodyFeature>(new StreamResponseBodyFeature(Stream.Null, body));
        }
        return next(context);
    }
}
