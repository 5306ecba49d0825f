using System.Text.Json.Nodes;
using Registry.Abstractions;

namespace Registry.Tests.Infrastructure;

/// <summary>
/// An HTTP consumer of <c>GET /events/{source}</c> reading the server-sent events as a browser's EventSource would:
/// comment lines start with ':', an event is its <c>data:</c> line and a blank line.
/// </summary>
public sealed class EventStreamClient : IAsyncDisposable
{
    private readonly HttpResponseMessage _response;
    private readonly StreamReader _reader;

    private EventStreamClient(HttpResponseMessage response, StreamReader reader)
    {
        _response = response;
        _reader = reader;
    }

    public HttpResponseMessage Response => _response;

    public static string Path(string source) => $"events/{source}?{RegistryHttp.ApiVersion}";

    /// <summary>Opens the stream and returns once the gateway says its subscription is in place.</summary>
    public static async Task<EventStreamClient> OpenAsync(HttpClient http, string source, CancellationToken cancellationToken)
    {
        var response = await http.GetAsync(Path(source), HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        var client = new EventStreamClient(response, new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken)));
        Assert.Equal(": subscribed", await client.ReadLineAsync(cancellationToken));
        return client;
    }

    public async Task<string> ReadLineAsync(CancellationToken cancellationToken) =>
        await _reader.ReadLineAsync(cancellationToken) ?? throw new EndOfStreamException("The event stream ended.");

    /// <summary>The next event's JSON, skipping comments and blank lines.</summary>
    public async Task<JsonObject> NextEventAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var line = await ReadLineAsync(cancellationToken);
            if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                return JsonNode.Parse(line["data: ".Length..])!.AsObject();
            }
            Assert.True(line.Length == 0 || line.StartsWith(':'), $"not a server-sent events line: {line}");
        }
    }

    /// <summary>Produces barriers behind <paramref name="deviceIds"/>'s events and returns the events read before them whose device is one of them.</summary>
    public async Task<IReadOnlyList<JsonObject>> UntilBarrierAsync(IClusterClient client, string source, IEnumerable<string> deviceIds, CancellationToken cancellationToken)
    {
        var mine = deviceIds.ToHashSet(StringComparer.Ordinal);
        var barriers = new HashSet<string>(await EventRecorder.ProduceBarriersAsync(client, source, mine), StringComparer.Ordinal);
        var seen = new List<JsonObject>();
        while (barriers.Count > 0)
        {
            var e = await NextEventAsync(cancellationToken);
            var device = (string?)e["systemProperties"]?["iothub-connection-device-id"];
            if (device is null || barriers.Remove(device))
            {
                continue;
            }
            if (mine.Contains(device))
            {
                seen.Add(e);
            }
        }
        return seen;
    }

    public ValueTask DisposeAsync()
    {
        _reader.Dispose();
        _response.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>The source names of <see cref="RegistryEventSources"/>, for theories.</summary>
    public static TheoryData<string> Sources => new(RegistryEventSources.All);
}
