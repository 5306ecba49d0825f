using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
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

    [LoggerMessage(Level = LogLevel.Error, Message = "Registry request failed with {Code}, tracking id {TrackingId}")]
    private static partial void LogServerError(ILogger logger, Exception exception, RegistryErrorCode code, string trackingId);
}

/// <summary>Exception → IoT Hub error code and client-safe text.</summary>
internal static class RegistryErrors
{
    public static (RegistryErrorCode Code, string Message) Map(Exception exception) => exception switch
    {
        RegistryException e => (e.Code, e.Message),
        BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } =>
            (RegistryErrorCode.MessageTooLarge, "The request body is too large."),
        BadHttpRequestException => (RegistryErrorCode.IotHubFormatError, "The request could not be read."),
        // A silo that is away or slow is transient: the SDKs retry on 503.
        TimeoutException => (RegistryErrorCode.ServiceUnavailable, "The registry did not answer in time; retry later."),
        OrleansMessageRejectionException => (RegistryErrorCode.ServiceUnavailable, "The registry is not reachable; retry later."),
        StorageUnavailableException e => (RegistryErrorCode.ServiceUnavailable, e.Message),
        _ => (RegistryErrorCode.ServerError, "The registry failed to process the request."),
    };
}
