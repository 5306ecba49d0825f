using System.Globalization;
using Microsoft.AspNetCore.Http;
using Registry.Abstractions;
using Registry.Gateway.Errors;

namespace Registry.Gateway.Throttling;

/// <summary>
/// Takes each request to a throttled endpoint from the hub's budget before its handler runs, so a refused request
/// reads no body and changes nothing. Runs as an endpoint filter, i.e. after every middleware (authentication
/// included): a request that fails authentication costs no budget.
/// </summary>
internal sealed class ThrottlingFilter(IThrottle throttle) : IEndpointFilter
{
    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        if (!throttle.IsEnabled || OperationClassifier.Classify(http.GetEndpoint()) is not { } operation)
        {
            return next(context);
        }
        var decision = throttle.TryAcquire(operation);
        if (decision.IsAcquired)
        {
            return next(context);
        }
        return ValueTask.FromResult<object?>(Refusal(http, throttle, operation, decision));
    }

    /// <summary>The 429 of a refused <paramref name="decision"/>, for this filter and for handlers that throttle per item.</summary>
    public static LegacyError Refusal(HttpContext http, IThrottle throttle, OperationClass operation, ThrottleDecision decision)
    {
        var seconds = decision.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        http.Response.Headers.RetryAfter = seconds;
        // No ';' in the text: the Node SDK keeps only the second ';'-segment of Message.
        var message = $"Throttled: {OperationClassifier.Describe(operation)} are limited to {throttle.Rates[operation]} "
            + $"on this hub (Registry:Throttling). Retry after {seconds} s.";
        return LegacyError.Create(http, RegistryErrorCode.ThrottlingException, message);
    }
}
