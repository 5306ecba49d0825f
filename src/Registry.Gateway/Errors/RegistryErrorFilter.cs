using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Registry.Abstractions;

namespace Registry.Gateway.Errors;

/// <summary>
/// The single place where a failure becomes an IoT Hub error: every endpoint of the registry API runs behind
/// this filter, and the handlers signal failures only by throwing.
/// </summary>
internal sealed partial class RegistryErrorFilter(ILogger<RegistryErrorFilter> logger) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        try
        {
            return await next(context);
        }
        catch (OperationCanceledException) when (context.HttpContext.RequestAborted.IsCancellationRequested)
        {
            throw; // the client is gone; there is nobody to answer
        }
        catch (Exception e)
        {
            var (code, message) = RegistryErrors.Map(e);
            var error = LegacyError.Create(code, message);
            if (code.HttpStatus() >= 500)
            {
                LogServerError(logger, e, code, error.TrackingId);
            }
            return error;
        }
    }

    [LoggerMessage(EventId = 1201, Level = LogLevel.Error, Message = "Registry request failed with {Code}, tracking id {TrackingId}")]
    private static partial void LogServerError(ILogger logger, Exception exception, RegistryErrorCode code, string trackingId);
}
