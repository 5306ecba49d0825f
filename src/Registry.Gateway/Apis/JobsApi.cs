using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;
using Registry.Abstractions;
using Registry.Gateway.Throttling;
using Registry.Gateway.Wire;

namespace Registry.Gateway.Apis;

/// <summary>
/// IoT Hub's import/export jobs: <c>POST /jobs/create</c>, <c>GET /jobs</c>, <c>GET /jobs/{id}</c>, <c>DELETE /jobs/{id}</c>.
/// Creating and cancelling need RegistryWrite, reading RegistryRead; all of them spend the job-operations budget.
/// </summary>
internal static class JobsApi
{
    public static RouteGroupBuilder MapJobsApi(this RouteGroupBuilder api)
    {
        api.MapPost("/jobs/create", CreateJob).WithMetadata(RequiredAccess.RegistryWrite).WithOperationClass(OperationClass.JobOperations);
        api.MapMethods("/jobs", HeadResponses.GetAndHead, ListJobs).WithMetadata(RequiredAccess.RegistryRead).WithOperationClass(OperationClass.JobOperations);
        api.MapMethods("/jobs/{jobId}", HeadResponses.GetAndHead, GetJob).WithMetadata(RequiredAccess.RegistryRead).WithOperationClass(OperationClass.JobOperations);
        api.MapDelete("/jobs/{jobId}", CancelJob).WithMetadata(RequiredAccess.RegistryWrite).WithOperationClass(OperationClass.JobOperations);
        return api;
    }

    /// <summary>200 with the enqueued job; 403 JobQuotaExceeded while another import/export job is active.</summary>
    public static async Task<JsonHttpResult<JobPropertiesJson>> CreateJob(
        HttpContext context, [FromServices] IGrainFactory grains, [FromServices] IOptions<GatewayOptions> options)
    {
        var body = await RequestBody.ReadAsync(context.Request, options.Value.MaxRequestBodyBytes, JobJsonContext.Wire.JobRequestJson);
        var job = await grains.GetGrain<IJobRegistryGrain>(0).Create(JobWireMapper.ToRequest(body));
        return Answer(job);
    }

    public static async Task<JsonHttpResult<JobPropertiesJson[]>> ListJobs([FromServices] IGrainFactory grains)
    {
        var jobs = await grains.GetGrain<IJobRegistryGrain>(0).List();
        return TypedResults.Json(jobs.Select(JobWireMapper.ToJson).ToArray(), JobJsonContext.Wire.JobPropertiesJsonArray, GatewayResults.JsonContentType);
    }

    public static async Task<JsonHttpResult<JobPropertiesJson>> GetJob(string jobId, [FromServices] IGrainFactory grains) =>
        Answer(await KnownJob(grains, jobId).Get() ?? throw new RegistryException(RegistryErrorCode.JobNotFound, $"Job {jobId} not found"));

    /// <summary>200 with the job, <c>cancelled</c> unless it had already ended (then as it ended). The C# SDK's If-Match is ignored.</summary>
    public static async Task<JsonHttpResult<JobPropertiesJson>> CancelJob(string jobId, [FromServices] IGrainFactory grains) =>
        Answer(await KnownJob(grains, jobId).Cancel());

    /// <summary>
    /// The job's grain, only for an id the registry could have issued (a GUID as it writes them): any other id is no job,
    /// so it answers 404 JobNotFound as an unknown GUID does, without activating a grain or reading storage (whose keys
    /// refuse some ids, e.g. ones over 1 KB, with an error that would surface as a 500). GUIDs compare without case, so
    /// the grain is the one of the canonical lowercase form the registry issued; the parser also trims whitespace, which
    /// no issued id has, so an id of another length (<c>" &lt;guid&gt;"</c>) is no job either.
    /// </summary>
    private static IJobGrain KnownJob(IGrainFactory grains, string jobId) =>
        jobId.Length == 36 && Guid.TryParseExact(jobId, "D", out var guid)
            ? grains.GetGrain<IJobGrain>(guid.ToString("D"))
            : throw new RegistryException(RegistryErrorCode.JobNotFound, "No job has this id: the registry's job ids are GUIDs.");

    private static JsonHttpResult<JobPropertiesJson> Answer(JobProperties job) =>
        TypedResults.Json(JobWireMapper.ToJson(job), JobJsonContext.Wire.JobPropertiesJson, GatewayResults.JsonContentType);
}
