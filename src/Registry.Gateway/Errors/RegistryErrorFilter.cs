using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
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
            var result = await next(context);
            // A device id DeviceId.BindAsync refused: minimal APIs skip the handler and answer an empty 400, so the
            // refusal is thrown here, where every other failure is mapped (after the throttle, as a handler's would be).
            if (result is EmptyHttpResult && Wire.DeviceId.BindingRefusal(context.HttpContext) is { } refusal)
            {
                throw refusal;
            }
            return result;
        }
        catch (OperationCanceledException) when (context.HttpContext.RequestAborted.IsCancellationRequested)
        {
            throw; // the client is gone; there is nobody to answer
        }
        catch (Exception e)
        {
            var (code, message) = RegistryErrors.Map(e);
            var error = LegacyError.Create(context.HttpContext, code, message);
            if (code == RegistryErrorCode.ServiceUnavailable)
            {
                // Storage or the cluster could not serve it for now: the storage layer has logged the cause at Warning, and
                // a stack per refused request flooded the log during an outage (hostile review, 2026-12-04).
                LogUnavailable(logger, code, error.TrackingId, message);
            }
            else if (code.HttpStatus() >= 500)
            {
                LogServerError(logger, e, code, error.TrackingId);
            }
            return error;
        }
    }

    [LoggerMessage(EventId = 1201, Level = LogLevel.Error, Message = "Registry request failed with {Code}, tracking id {TrackingId}")]
    private static partial void LogServerError(ILogger logger, Exception exception, RegistryErrorCode code, string trackingId);

    [LoggerMessage(EventId = 1206, Level = LogLevel.Warning, Message = "Registry request answered {Code}, tracking id {TrackingId}: {Text}")]
    private static partial void LogUnavailable(ILogger logger, RegistryErrorCode code, string trackingId, string text);
}
