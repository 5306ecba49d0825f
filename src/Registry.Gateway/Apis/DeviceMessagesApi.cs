using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Microsoft.Net.Http.Headers;
using Registry.Abstractions;
using Registry.Gateway.Errors;
using Registry.Gateway.Security;
using Registry.Gateway.Throttling;
using Registry.Gateway.Wire;

namespace Registry.Gateway.Apis;

/// <summary>
/// IoT Hub's HTTPS device endpoint, <c>POST /devices/{id}/messages/events</c>, single and batch (spec §9.1). Every
/// message is a heartbeat: the device grain records it in memory (last activity, last heartbeat) and, as the final
/// authority, refuses a device whose delete, disable or re-key was acknowledged, whatever the credential cache holds.
/// Bodies are measured and counted, never stored: this is a registry, not a message pipeline.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Usage", "ASP0020", Justification = "DeviceId binds with BindAsync from the raw target.")]
internal static partial class DeviceMessagesApi
{
    public static RouteGroupBuilder MapDeviceMessagesApi(this RouteGroupBuilder api)
    {
        // Not throttled by ThrottlingFilter (DeviceConnect is not a registry right): the handler spends DeviceToCloudSends
        // once per message, which it knows only after reading the batch.
        api.MapPost("/devices/{id}/messages/events", SendEvents).RequireDeviceAccess(DeviceId.RouteValueName);
        return api;
    }

    /// <summary>
    /// 204 once the device grain counted the messages. Refused before anything is counted: a body over 256 KB or a
    /// message (body and properties) over it (413 MessageTooLarge), a malformed batch or property (400 ArgumentInvalid),
    /// an exhausted DeviceToCloudSends budget (429), a device the grain no longer accepts (401).
    /// </summary>
    public static async Task<IResult> SendEvents(
        DeviceId id, HttpContext context, [FromServices] IGrainFactory grains, [FromServices] IThrottle throttle,
        [FromServices] ILoggerFactory loggers)
    {
        var request = context.Request;
        var body = await RequestBody.ReadCappedAsync(request, RegistryLimits.MaxDeviceMessageBytes);
        IReadOnlyList<DeviceToCloudMessage> messages = IsBatch(request)
            ? DeviceToCloudMessage.FromBatch(body)
            : [DeviceToCloudMessage.FromRequest(request, body.Length)];
        if (messages.Sum(m => (long)m.Size) > RegistryLimits.MaxDeviceMessageBytes)
        {
            throw new RegistryException(RegistryErrorCode.MessageTooLarge,
                $"The message with its properties is larger than {RegistryLimits.MaxDeviceMessageBytes} bytes.");
        }

        var decision = throttle.TryAcquire(OperationClass.DeviceToCloudSends, messages.Count);
        if (!decision.IsAcquired)
        {
            return ThrottlingFilter.Refusal(context, throttle, OperationClass.DeviceToCloudSends, decision);
        }

        var keyFingerprint = context.Features.Get<AuthorizedDevice>()?.KeyFingerprint;
        var access = await GrainReferences<IDeviceGrain>.Get(grains, id.Value)
            .Message(new DeviceMessage(DeviceTransport.Https, null, keyFingerprint, messages.Count));
        if (access != DeviceAccess.Granted)
        {
            LogRefused(loggers.CreateLogger(typeof(DeviceMessagesApi).FullName!), id.Value, access);
            return LegacyError.Create(context, RegistryErrorCode.IotHubUnauthorizedAccess, SharedAccessMiddleware.UnauthorizedMessage);
        }
        return TypedResults.NoContent();
    }

    private static bool IsBatch(HttpRequest request) =>
        MediaTypeHeaderValue.TryParse(request.ContentType, out var type)
        && type.MediaType.Equals(DeviceToCloudMessage.BatchContentType, StringComparison.OrdinalIgnoreCase);

    [LoggerMessage(EventId = 1110, Level = LogLevel.Debug, Message = "Device {DeviceId} refused by its device grain: {Access}")]
    private static partial void LogRefused(ILogger logger, string deviceId, DeviceAccess access);
}
