using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Orleans.Runtime.Messaging;
using Registry.Abstractions;
using Registry.Gateway.Errors;
using Registry.Gateway.Wire;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Http;

/// <summary>
/// The Node SDK reads an error's text as what follows the first <c>;</c> of <c>ErrorCode:X;text</c> and drops anything
/// after a further <c>;</c> (docs/wire-contract.md §6), so no registry error text holds a <c>;</c> of its own.
/// </summary>
public sealed class ErrorTextTests(RegistryHostFixture registry) : IClassFixture<RegistryHostFixture>
{
    private readonly HttpClient _http = registry.Client;

    /// <summary>
    /// Review, stop 32: <c>reg.create({deviceId:'a b'})</c> showed Node users the id alphabet cut at its <c>;</c> (without
    /// <c>;$'</c> and "other than . and .."), and two <c>parentScopes</c> showed only "parentScopes holds 2 scopes"; other
    /// texts (a bulk over 100, a device its own parent, a heartbeat without interval, a message id, a header twice, a batch
    /// member) were cut the same way.
    /// </summary>
    [Theory]
    [InlineData("a device id with a space")]
    [InlineData("two parent scopes")]
    [InlineData("an edge device naming its own scope as parent")]
    [InlineData("a bulk request over 100 devices")]
    [InlineData("a heartbeat setting without an interval")]
    [InlineData("a message id with a space")]
    [InlineData("a batch message with an extra member")]
    public async Task An_error_text_holds_no_semicolon_after_its_error_code_so_node_users_read_all_of_it(string @case)
    {
        using var response = await SendAsync(@case);

        var text = await TextAfterCodeAsync(response);
        Assert.DoesNotContain(';', text);
        if (@case == "a device id with a space")
        {
            Assert.Contains("-:.+%_#*?!(),=@$' and semicolon, other than . and ..", text, StringComparison.Ordinal);
        }
        if (@case == "two parent scopes")
        {
            Assert.Contains("at most 1 parent", text, StringComparison.Ordinal);
        }
    }

    /// <summary>Review, stop 32: the transient failures' texts said "; retry later", which Node users never saw.</summary>
    [Fact]
    public void The_texts_of_transient_failures_hold_no_semicolon()
    {
        Exception[] failures =
        [
            new TimeoutException(), new ConnectionFailedException("x"), new OperationCanceledException(),
        ];
        Assert.All(failures, failure =>
        {
            var (code, message) = RegistryErrors.Map(failure);
            Assert.Equal(RegistryErrorCode.ServiceUnavailable, code);
            Assert.DoesNotContain(';', message);
            Assert.Contains("Retry later", message, StringComparison.Ordinal);
        });
    }

    /// <summary>
    /// A cancellation inside the cluster is a change of silos or storage that did not answer: a single silo whose storage
    /// stalled answered "The registry is reorganising after a change of its silos" (a review, 2026-12-08).
    /// </summary>
    [Fact]
    public void A_cancellation_inside_the_cluster_names_storage_too_not_only_a_change_of_silos()
    {
        var (code, message) = RegistryErrors.Map(new TaskCanceledException());

        Assert.Equal(RegistryErrorCode.ServiceUnavailable, code);
        Assert.Contains("storage did not answer in time", message, StringComparison.Ordinal);
        Assert.DoesNotContain("reorganising", message, StringComparison.Ordinal);
    }

    /// <summary>Review, stop 32: "appears 2 times; it may appear once" lost its second half for Node users.</summary>
    [Fact]
    public void The_text_for_a_property_header_sent_twice_holds_no_semicolon()
    {
        var request = new DefaultHttpContext().Request;
        request.Headers["iothub-app-k"] = new StringValues(["a", "b"]);

        var e = Assert.Throws<RegistryException>(() => DeviceToCloudMessage.FromRequest(request, 0));

        Assert.Equal(RegistryErrorCode.ArgumentInvalid, e.Code);
        Assert.DoesNotContain(';', e.Message);
        Assert.Contains("may appear once", e.Message, StringComparison.Ordinal);
    }

    private async Task<HttpResponseMessage> SendAsync(string @case)
    {
        switch (@case)
        {
            case "a device id with a space":
                return await _http.PutDeviceAsync("a b", Json(new { deviceId = "a b" }));
            case "two parent scopes":
                return await _http.PutDeviceAsync("errtext-scopes", Json(new { deviceId = "errtext-scopes", parentScopes = new[] { "a", "b" } }));
            case "an edge device naming its own scope as parent":
                var edge = await _http.CreateDeviceAsync("errtext-edge", Json(new { deviceId = "errtext-edge", capabilities = new { iotEdge = true } }));
                return await _http.PutDeviceAsync("errtext-edge",
                    Json(new { deviceId = "errtext-edge", capabilities = new { iotEdge = true }, parentScopes = new[] { (string)edge["deviceScope"]! } }), "*");
            case "a bulk request over 100 devices":
                return await _http.BulkAsync(Json(Enumerable.Range(0, 101).Select(i => new { id = $"errtext-bulk-{i}", importMode = "create" })));
            case "a heartbeat setting without an interval":
                await _http.CreateDeviceAsync("errtext-beat");
                return await _http.SendAsync(HttpMethod.Put, $"devices/errtext-beat/heartbeat?{ApiVersion}", """{"graceSeconds":5}""");
            default:
                var id = $"errtext-d2c-{Guid.NewGuid():N}"[..24];
                var device = await _http.CreateDeviceAsync(id);
                using (var client = registry.Host.CreateDeviceClient(id, (string)device["authentication"]!["symmetricKey"]!["primaryKey"]!))
                {
                    var request = new HttpRequestMessage(HttpMethod.Post, $"devices/{id}/messages/events?{ApiVersion}")
                    {
                        Content = @case == "a batch message with an extra member"
                            ? new StringContent("""[{"body":"YQ==","extra":true}]""", Encoding.UTF8, "application/vnd.microsoft.iothub.json")
                            : new ByteArrayContent("{}"u8.ToArray()),
                    };
                    if (@case == "a message id with a space")
                    {
                        request.Headers.TryAddWithoutValidation("IoTHub-MessageId", "has space");
                    }
                    return await client.SendAsync(request);
                }
        }
    }

    /// <summary>IoT Hub's error shape with the code of its header; returns the text the Node SDK splits off after <c>ErrorCode:X;</c>.</summary>
    private static async Task<string> TextAfterCodeAsync(HttpResponseMessage response)
    {
        var code = response.Headers.TryGetValues(ErrorCodeHeader, out var codes) ? codes.Single() : null;
        Assert.NotNull(code);
        var body = await response.AssertIotHubErrorAsync((int)response.StatusCode, code);
        var message = (string)body["Message"]!;
        return message[$"ErrorCode:{code};".Length..];
    }
}
