using System.Globalization;
using Microsoft.AspNetCore.Http;
using Registry.Abstractions;

namespace Registry.Gateway.Wire;

/// <summary>
/// What a <c>GET /devices</c> asks for. <c>top</c> follows the swagger (outside 1..1000 or unreadable means
/// 1000); the cursor headers are this registry's own extension, so a bad value there is refused, not guessed.
/// </summary>
internal sealed record ListRequest(int MaxCount, string? Continuation, bool IsCursorWalk)
{
    public const string MaxItemCountHeader = "x-ms-max-item-count";
    public const string ContinuationHeader = "x-ms-continuation";

    public static ListRequest From(HttpRequest request) => From(
        request.Query["top"].FirstOrDefault(),
        request.Headers.TryGetValue(MaxItemCountHeader, out var max) ? max.ToString() : null,
        request.Headers.TryGetValue(ContinuationHeader, out var continuation) ? continuation.ToString() : null);

    public static ListRequest From(string? top, string? maxItemCount, string? continuation)
    {
        var topCount = TryCount(top) ?? RegistryLimits.MaxPageSize;
        if (maxItemCount is null && continuation is null)
        {
            return new ListRequest(topCount, null, false);
        }
        var max = maxItemCount is null
            ? topCount
            : TryCount(maxItemCount) ?? throw RegistryException.Invalid($"{MaxItemCountHeader} must be a number from 1 to {RegistryLimits.MaxPageSize}.");
        return new ListRequest(max, string.IsNullOrEmpty(continuation) ? null : continuation, true);
    }

    private static int? TryCount(string? value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= RegistryLimits.MaxPageSize ? n : null;
}
