using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Registry.Abstractions;
using Registry.Gateway.Errors;
using Registry.Gateway.Security;
using Registry.Gateway.Wire;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Gateway;

public class ErrorResponseTests
{
    [Fact]
    public void Error_body_is_the_legacy_message_with_a_tracking_id()
    {
        var error = new LegacyError(RegistryErrorCode.DeviceNotFound, "Device dev1 not registered",
            "0123456789abcdef0123456789abcdef", new DateTime(2026, 11, 26, 13, 5, 9, DateTimeKind.Utc));
        Assert.Equal("ErrorCode:DeviceNotFound;Device dev1 not registered", error.Body.Message);
        Assert.Equal("Tracking ID:0123456789abcdef0123456789abcdef-G:0-TimeStamp:11/26/2026 13:05:09", error.Body.ExceptionMessage);
    }

    [Fact]
    public void The_error_timestamp_is_read_from_the_registry_clock()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2031, 2, 3, 4, 5, 6, TimeSpan.Zero));
        var body = LegacyError.Create(NewContext(clock), RegistryErrorCode.ServerError, "x").Body;
        Assert.EndsWith("-G:0-TimeStamp:02/03/2031 04:05:06", body.ExceptionMessage);
    }

    [Fact]
    public void Tracking_id_is_32_hex_digits_and_the_timestamp_is_month_first()
    {
        var body = LegacyError.Create(NewContext(), RegistryErrorCode.ServerError, "x").Body;
        Assert.Matches(new Regex(@"^Tracking ID:[0-9a-f]{32}-G:0-TimeStamp:\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2}$"), body.ExceptionMessage);
    }

    [Theory]
    [InlineData(RegistryErrorCode.DeviceNotFound, 404)]
    [InlineData(RegistryErrorCode.DeviceAlreadyExists, 409)]
    [InlineData(RegistryErrorCode.PreconditionFailed, 412)]
    [InlineData(RegistryErrorCode.IotHubFormatError, 400)]
    [InlineData(RegistryErrorCode.MessageTooLarge, 413)]
    [InlineData(RegistryErrorCode.TooManyDevices, 413)]
    [InlineData(RegistryErrorCode.ServerError, 500)]
    public async Task Error_response_has_status_code_over_1000_the_errorcode_header_and_json(RegistryErrorCode code, int status)
    {
        var context = NewContext();
        await LegacyError.Create(context, code, "text").ExecuteAsync(context);
        Assert.Equal(status, context.Response.StatusCode);
        Assert.Equal(code.ToString(), context.Response.Headers["iothub-errorcode"].ToString());
        Assert.Equal("application/json; charset=utf-8", context.Response.ContentType);
        using var doc = JsonDocument.Parse(ResponseText(context));
        Assert.Equal(["Message", "ExceptionMessage"], doc.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal($"ErrorCode:{code};text", doc.RootElement.GetProperty("Message").GetString());
    }

    [Fact]
    public void Registry_exception_keeps_its_code_and_text() =>
        Assert.Equal((RegistryErrorCode.PreconditionFailed, "stale"),
            RegistryErrors.Map(new RegistryException(RegistryErrorCode.PreconditionFailed, "stale")));

    [Fact]
    public void Unknown_exception_is_ServerError_without_its_details()
    {
        var (code, message) = RegistryErrors.Map(new InvalidOperationException("connection string secret"));
        Assert.Equal(RegistryErrorCode.ServerError, code);
        Assert.DoesNotContain("secret", message);
    }

    [Fact]
    public void Silo_timeout_is_ServiceUnavailable() =>
        Assert.Equal(RegistryErrorCode.ServiceUnavailable, RegistryErrors.Map(new TimeoutException()).Code);

    [Fact]
    public void A_call_cancelled_inside_the_cluster_while_its_silos_change_is_ServiceUnavailable() =>
        Assert.Equal(RegistryErrorCode.ServiceUnavailable, RegistryErrors.Map(new OperationCanceledException()).Code);

    [Fact]
    public void Unreachable_silo_is_ServiceUnavailable() =>
        Assert.Equal(RegistryErrorCode.ServiceUnavailable, RegistryErrors.Map(new SiloUnavailableException()).Code);

    [Fact]
    public void No_silo_listening_at_any_gateway_address_is_ServiceUnavailable() =>
        Assert.Equal(RegistryErrorCode.ServiceUnavailable,
            RegistryErrors.Map(new Orleans.Runtime.Messaging.ConnectionFailedException("Unable to connect to S127.0.0.1:30000:0, will retry after 990ms")).Code);

    [Fact]
    public void Gateway_silo_too_busy_is_ServiceUnavailable() =>
        Assert.Equal(RegistryErrorCode.ServiceUnavailable, RegistryErrors.Map(new GatewayTooBusyException()).Code);

    [Fact]
    public void Any_other_orleans_failure_stays_ServerError() =>
        Assert.Equal(RegistryErrorCode.ServerError, RegistryErrors.Map(new OrleansException("a bug")).Code);

    [Fact]
    public void Kestrel_body_limit_is_MessageTooLarge() =>
        Assert.Equal(RegistryErrorCode.MessageTooLarge, RegistryErrors.Map(new BadHttpRequestException("big", 413)).Code);

    [Fact]
    public async Task Filter_turns_a_thrown_registry_exception_into_the_legacy_error()
    {
        var filter = new RegistryErrorFilter(NullLogger<RegistryErrorFilter>.Instance);
        var result = await filter.InvokeAsync(EndpointFilterInvocationContext.Create(NewContext()),
            _ => throw RegistryException.DeviceNotFound("dev1"));
        Assert.Equal(RegistryErrorCode.DeviceNotFound, Assert.IsType<LegacyError>(result).Code);
    }

    /// <summary>
    /// A 503 is logged once, at Warning, with its text and without a stack: the storage layer has logged the cause, and a
    /// stack per refused request (at Error) flooded the log while storage was down (hostile review, 2026-12-04).
    /// </summary>
    [Fact]
    public async Task Filter_logs_a_503_at_warning_without_a_stack_and_a_500_at_error_with_it()
    {
        var logs = new CapturedLogs();
        using var factory = LoggerFactory.Create(b => b.AddProvider(logs));
        var filter = new RegistryErrorFilter(factory.CreateLogger<RegistryErrorFilter>());
        await filter.InvokeAsync(EndpointFilterInvocationContext.Create(NewContext()),
            _ => throw new StorageUnavailableException("Storage did not answer within 5 s. Retry later."));
        var unavailable = Assert.Single(logs.Lines);
        Assert.Equal(LogLevel.Warning, unavailable.Level);
        Assert.Contains("ServiceUnavailable", unavailable.Text);
        Assert.Contains("Storage did not answer within 5 s.", unavailable.Text);
        Assert.DoesNotContain(" at ", unavailable.Text);

        await filter.InvokeAsync(EndpointFilterInvocationContext.Create(NewContext()), _ => throw new InvalidOperationException("a bug"));
        var failed = logs.Lines[^1];
        Assert.Equal(LogLevel.Error, failed.Level);
        Assert.Contains("a bug", failed.Text);
    }

    /// <summary>
    /// The same for the device lookup of a device's token (hostile review, 2026-12-07: the gateway logged a stack for each
    /// request answered 503 while storage was stopped): 503 is one line with its text, anything else keeps its stack.
    /// </summary>
    [Fact]
    public void An_access_check_the_cluster_could_not_answer_is_logged_without_a_stack_and_a_failure_with_it()
    {
        var logs = new CapturedLogs();
        using var factory = LoggerFactory.Create(b => b.AddProvider(logs));
        var logger = factory.CreateLogger<SharedAccessMiddleware>();
        var unavailable = new StorageUnavailableException("Storage did not answer within 5 s. Retry later.");
        var (code, message) = RegistryErrors.Map(unavailable);

        SharedAccessMiddleware.LogLookupFailure(logger, unavailable, code, message, "POST", "/devices/d1/messages/events");

        var line = Assert.Single(logs.Lines);
        Assert.Equal(LogLevel.Warning, line.Level);
        Assert.Equal("Could not check access for POST /devices/d1/messages/events: answered 503 ServiceUnavailable (Storage did not answer within 5 s. Retry later.)", line.Text);

        var bug = new InvalidOperationException("a bug");
        var (bugCode, bugMessage) = RegistryErrors.Map(bug);
        SharedAccessMiddleware.LogLookupFailure(logger, bug, bugCode, bugMessage, "GET", "/devices/d1");
        Assert.Contains("System.InvalidOperationException: a bug", logs.Lines[^1].Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Filter_passes_successful_results_through()
    {
        var filter = new RegistryErrorFilter(NullLogger<RegistryErrorFilter>.Instance);
        Assert.Equal("ok", await filter.InvokeAsync(EndpointFilterInvocationContext.Create(NewContext()), _ => ValueTask.FromResult<object?>("ok")));
    }

    [Fact]
    public async Task Body_declared_larger_than_the_limit_is_MessageTooLarge_before_reading()
    {
        var context = NewContext();
        context.Request.ContentLength = 11;
        context.Request.Body = new MemoryStream(new byte[11]);
        var e = await Assert.ThrowsAsync<RegistryException>(() => RequestBody.ReadAsync(context.Request, 10, GatewayJsonContext.Wire.DeviceRequestJson));
        Assert.Equal(RegistryErrorCode.MessageTooLarge, e.Code);
        Assert.Equal(0, context.Request.Body.Position);
    }

    [Fact]
    public async Task Chunked_body_growing_past_the_limit_is_MessageTooLarge()
    {
        var context = NewContext();
        context.Request.Body = new MemoryStream(Encoding.UTF8.GetBytes("{\"statusReason\":\"" + new string('a', 100) + "\"}"));
        var e = await Assert.ThrowsAsync<RegistryException>(() => RequestBody.ReadAsync(context.Request, 64, GatewayJsonContext.Wire.DeviceRequestJson));
        Assert.Equal(RegistryErrorCode.MessageTooLarge, e.Code);
    }

    [Fact]
    public async Task Body_at_the_limit_is_read()
    {
        var json = "{\"status\":\"disabled\"}";
        var context = NewContext();
        context.Request.Body = new MemoryStream(Encoding.UTF8.GetBytes(json));
        var body = await RequestBody.ReadAsync(context.Request, json.Length, GatewayJsonContext.Wire.DeviceRequestJson);
        Assert.Equal("disabled", body.Status);
    }

    private static DefaultHttpContext NewContext(TimeProvider? clock = null) => new()
    {
        RequestServices = new ServiceCollection().AddLogging().AddKeyedSingleton(RegistryClock.Key, clock ?? TimeProvider.System).BuildServiceProvider(),
        Response = { Body = new MemoryStream() },
    };

    private static string ResponseText(HttpContext context)
    {
        context.Response.Body.Position = 0;
        return new StreamReader(context.Response.Body).ReadToEnd();
    }
}
