using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;
using Registry.Abstractions;
using Registry.Gateway.Errors;
using Registry.Gateway.Wire;

namespace Registry.Gateway.Apis;

/// <summary>IoT Hub's bulk create/update/delete: <c>POST /devices</c> with up to 100 ExportImportDevice items.</summary>
internal static class BulkApi
{
    public static RouteGroupBuilder MapBulkApi(this RouteGroupBuilder api)
    {
        api.MapPost("/devices", ApplyBulk).WithMetadata(RequiredAccess.RegistryWrite);
        return api;
    }

    /// <summary>
    /// 200 when every item succeeded, else 400 with the failed items. Items are independent: the ones that
    /// succeeded stay applied (the registry grain's contract; docs/invariants.md §9).
    /// </summary>
    public static async Task<JsonHttpResult<BulkResultJson>> ApplyBulk(
        HttpContext context, [FromServices] IGrainFactory grains, [FromServices] IOptions<GatewayOptions> options)
    {
        var body = await RequestBody.ReadAsync(context.Request, options.Value.MaxRequestBodyBytes,
            GatewayJsonContext.Wire.ExportImportDeviceJsonArray);
        var items = BulkRequest.Parse(body);
        var operations = items.Where(i => i.Operation is not null).Select(i => i.Operation!).ToArray();
        var grainErrors = operations.Length == 0
            ? []
            : (await grains.GetGrain<IDeviceRegistryGrain>(0).ApplyBulk(operations)).Errors;
        var result = BulkRequest.Result(items, grainErrors);
        if (!result.IsSuccessful)
        {
            context.Response.Headers[LegacyError.ErrorCodeHeader] = nameof(RegistryErrorCode.BulkRegistryOperationFailure);
        }
        return TypedResults.Json(result, GatewayJsonContext.Wire.BulkResultJson, GatewayResults.JsonContentType,
            result.IsSuccessful ? StatusCodes.Status200OK : StatusCodes.Status400BadRequest);
    }
}
