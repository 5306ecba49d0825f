using Microsoft.AspNetCore.Http;
using Orleans.Runtime.Messaging;
using Registry.Abstractions;

namespace Registry.Gateway.Errors;

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
        TimeoutException => (RegistryErrorCode.ServiceUnavailable, "The registry did not answer in time. Retry later."),
        // The cluster could not take the call: a silo declared dead under it (a rejection), no silo listening at any
        // gateway address the client knows (every silo stopped or restarting: killed silos stay listed until their
        // successors start, so the client's connect fails), or a gateway silo shedding load.
        OrleansMessageRejectionException or ConnectionFailedException or GatewayTooBusyException =>
            (RegistryErrorCode.ServiceUnavailable, "The registry is not reachable. Retry later."),
        StorageUnavailableException e => (RegistryErrorCode.ServiceUnavailable, e.Message),
        // Cancelled inside the cluster, not by the client (the filter lets a client's own cancellation through): the grain
        // directory cancels a lookup while the cluster's membership changes, e.g. while a dead silo is being declared, and
        // a storage request that did not answer in time is cancelled too (a single silo whose storage stalled answered
        // "reorganising after a change of its silos": a review, 2026-12-08).
        OperationCanceledException => (RegistryErrorCode.ServiceUnavailable, "The registry could not finish the request: its silos changed, or storage did not answer in time. Retry later."),
        _ => (RegistryErrorCode.ServerError, "The registry failed to process the request."),
    };
}
