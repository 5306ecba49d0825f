using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Registry.Abstractions;
using Registry.Gateway.Errors;
using Registry.Gateway.Wire;

namespace Registry.Gateway.Security;

/// <summary>
/// Enforces <see cref="RequiredAccess"/> before any handler runs (so a refused request reads no body and touches no
/// grain beyond the device lookup of the device rule). Every refusal is the same 401 IotHubUnauthorizedAccess with a
/// generic text; why it was refused goes to the Debug log only, so the answer teaches an attacker nothing.
/// Endpoints without <see cref="RequiredAccess"/> (<c>/healthz</c>, unsupported-route answers) are anonymous.
/// </summary>
internal sealed partial class SharedAccessMiddleware(
    RequestDelegate next,
    SharedAccessAuthorizer service,
    DeviceAccessAuthorizer devices,
    IOptions<SharedAccessOptions> options,
    ILogger<SharedAccessMiddleware> logger)
{
    public const string UnauthorizedMessage = "Unauthorized";

    private readonly bool _enabled = options.Value.Enabled;

    public async Task InvokeAsync(HttpContext context)
    {
        var endpoint = context.GetEndpoint();
        if (!_enabled || endpoint?.Metadata.GetMetadata<RequiredAccess>() is not { } required)
        {
            await next(context);
            return;
        }

        var request = context.Request;
        var path = request.PathBase.Add(request.Path).Value ?? "/";
        var authorization = request.Headers.Authorization;
        AccessDecision decision;
        try
        {
            if (authorization.Count != 1)
            {
                decision = AccessDecision.Refused(authorization.Count == 0 ? "no Authorization header" : "several Authorization headers");
            }
            else if (endpoint.Metadata.GetMetadata<DeviceIdRoute>() is { } route)
            {
                // The same binding the handler's DeviceId parameter gets: the device authorized is the device handled.
                decision = DeviceId.TryResolve(context, route.RouteValueName, out var deviceId)
                    ? await devices.AuthorizeAsync(authorization[0], deviceId.Value, path)
                    : AccessDecision.Refused("no valid device id in the path");
                if (decision.IsGranted)
                {
                    context.Features.Set(new AuthorizedDevice(deviceId!.Value, decision.KeyFingerprint));
                }
            }
            else
            {
                decision = service.AuthorizeService(authorization[0], path, required.Rights);
            }
        }
        catch (Exception e) when (!context.RequestAborted.IsCancellationRequested)
        {
            // A device lookup failed (silo away, timeout): a server-side failure, answered like any other.
            var (code, message) = RegistryErrors.Map(e);
            LogLookupFailure(logger, e, code, message, request.Method, path);
            await LegacyError.Create(context, code, message).ExecuteAsync(context);
            return;
        }

        if (!decision.IsGranted)
        {
            LogRefused(logger, request.Method, path, decision.Reason);
            await LegacyError.Create(context, RegistryErrorCode.IotHubUnauthorizedAccess, UnauthorizedMessage).ExecuteAsync(context);
            return;
        }
        await next(context);
    }

    [LoggerMessage(EventId = 1001, Level = LogLevel.Debug, Message = "Refused {Method} {Path}: {Reason}")]
    private static partial void LogRefused(ILogger logger, string method, string path, string reason);

    /// <summary>
    /// A lookup the cluster or storage could not answer (503: the layer below has logged its cause) is one line with the
    /// answer's text; anything else keeps its stack. A review (2026-12-07) saw a stack per request answered 503 while
    /// storage was stopped.
    /// </summary>
    internal static void LogLookupFailure(ILogger logger, Exception exception, RegistryErrorCode code, string message, string method, string path)
    {
        if (code == RegistryErrorCode.ServiceUnavailable)
        {
            LogLookupUnavailable(logger, method, path, message);
        }
        else
        {
            LogLookupFailed(logger, exception, method, path);
        }
    }

    [LoggerMessage(EventId = 1002, Level = LogLevel.Warning, Message = "Could not check access for {Method} {Path}")]
    private static partial void LogLookupFailed(ILogger logger, Exception exception, string method, string path);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Warning, Message = "Could not check access for {Method} {Path}: answered 503 ServiceUnavailable ({Reason})")]
    private static partial void LogLookupUnavailable(ILogger logger, string method, string path, string reason);
}
