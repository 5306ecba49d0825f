using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Registry.LoadTests.Harness;

namespace Registry.LoadTests.Scenarios;

/// <summary>
/// <c>registry-crud</c>: a service's mix on the registry's REST surface over HTTPS with one owner SAS token. Each of
/// <c>--devices</c> slots goes through a device's life again and again: create, get, update, get, update, get,
/// delete (1 create : 3 gets : 2 updates : 1 delete). Updates and deletes send the ETag the slot last saw in
/// <c>If-Match</c>, and a get checks the ETag is still that one, so a lost update or a wrong 412 is a failure.
/// Calls on one slot wait for each other (the order is the test); calls on different slots run freely. Its ceiling
/// is a no-op Kestrel <c>GET</c> on the same certificate.
/// </summary>
internal sealed class RegistryCrudScenario : IScenario
{
    private static readonly string[] Cycle = ["create", "get", "update", "get", "update", "get", "delete"];
    private readonly int _slots;
    private readonly List<string> _notes = [];
    private readonly List<IAsyncDisposable> _owned = [];

    public RegistryCrudScenario(Arguments args) => _slots = args.Int("--devices", 1_000, min: 1, max: ScenarioLimits.MaxHttpDevices);

    public LoadModel DefaultModel => LoadModel.Closed(32);

    public IReadOnlyList<string> Notes => _notes;

    public async Task<IReadOnlyList<Step>> PrepareAsync(ScenarioContext context, CancellationToken cancel)
    {
        var target = await RegistryTarget.StartInProcessAsync(0, mqtt: false, cancel);
        _owned.Add(target);
        _notes.Add("target: " + target.Description);
        _notes.Add(string.Create(CultureInfo.InvariantCulture, $"{_slots:N0} device slots, each cycling {string.Join(" → ", Cycle)}; one owner SAS token for the run, as the service SDKs reuse theirs"));
        var model = context.Options.Model ?? DefaultModel;
        var http = target.CreateHttpClient(model.Kind == LoadKind.Closed ? (int)Math.Max(model.From, model.To) : 256);
        _owned.Add(new Disposer(() =>
        {
            http.Dispose();
            return ValueTask.CompletedTask;
        }));
        if (target.InProcess!.OwnerToken() is { } token)
        {
            http.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", token);
        }
        var run = Guid.NewGuid().ToString("N")[..6];
        var slots = Enumerable.Range(0, _slots).Select(i => new Slot(string.Create(CultureInfo.InvariantCulture, $"crud-{run}-{i:D6}"))).ToArray();
        var baseAddress = target.InProcess.BaseAddress;
        var steps = new List<Step>();
        if (context.Options.Ceiling)
        {
            var (noop, noopAddress) = await target.StartNoopServerAsync(cancel);
            _owned.Add(new Disposer(async () =>
            {
                await noop.StopAsync(CancellationToken.None);
                await noop.DisposeAsync();
            }));
            var noopUri = new Uri(noopAddress + "/noop");
            steps.Add(new Step("noop-kestrel-get", async (_, cancel) =>
            {
                using var response = await http.GetAsync(noopUri, cancel);
                return response.IsSuccessStatusCode ? null : ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture);
            })
            {
                CeilingOf = "crud",
                Description = "`GET /noop` on a Kestrel with the registry's certificate and nothing behind it (the ceiling)",
            });
        }
        steps.Add(new Step("crud", (n, cancel) => slots[n % slots.Length].NextAsync(http, baseAddress, cancel))
        {
            Description = "create (PUT), get, update (PUT with If-Match), delete (DELETE with If-Match) in the proportions 1 : 3 : 2 : 1; failures are named `operation status`",
        });
        return steps;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var owned in Enumerable.Reverse(_owned))
        {
            await owned.DisposeAsync();
        }
    }

    /// <summary>One device's place in the cycle and the ETag it last saw.</summary>
    private sealed class Slot(string id)
    {
        private readonly SemaphoreSlim _turn = new(1, 1);
        private int _next;
        private string? _etag;

        public async ValueTask<string?> NextAsync(HttpClient http, string baseAddress, CancellationToken cancel)
        {
            await _turn.WaitAsync(cancel);
            try
            {
                var operation = Cycle[_next];
                var uri = $"{baseAddress}/devices/{id}?api-version=2021-04-12";
                using var request = operation switch
                {
                    "create" => Put(uri, null, "enabled"),
                    "update" => Put(uri, _etag, _next == 2 ? "disabled" : "enabled"),
                    "delete" => new HttpRequestMessage(HttpMethod.Delete, uri) { Headers = { { "If-Match", $"\"{_etag}\"" } } },
                    _ => new HttpRequestMessage(HttpMethod.Get, uri),
                };
                using var response = await http.SendAsync(request, cancel);
                var expected = operation == "delete" ? HttpStatusCode.NoContent : HttpStatusCode.OK;
                if (response.StatusCode != expected)
                {
                    return $"{operation} {(int)response.StatusCode}";
                }
                if (operation != "delete")
                {
                    var etag = ETagOf(await response.Content.ReadAsStringAsync(cancel));
                    if (operation == "get" && etag != _etag)
                    {
                        return "get: not the ETag of the last write";
                    }
                    if (operation != "get" && etag == _etag)
                    {
                        return $"{operation}: the ETag did not change";
                    }
                    _etag = etag;
                }
                _next = (_next + 1) % Cycle.Length;
                return null;
            }
            finally
            {
                _turn.Release();
            }
        }

        private HttpRequestMessage Put(string uri, string? etag, string status)
        {
            var request = new HttpRequestMessage(HttpMethod.Put, uri)
            {
                Content = new StringContent($"{{\"deviceId\":\"{id}\",\"status\":\"{status}\",\"authentication\":{{\"type\":\"sas\",\"symmetricKey\":{{\"primaryKey\":\"\",\"secondaryKey\":\"\"}}}}}}", Encoding.UTF8, "application/json"),
            };
            if (etag is not null)
            {
                request.Headers.TryAddWithoutValidation("If-Match", $"\"{etag}\"");
            }
            return request;
        }

        private static string? ETagOf(string json)
        {
            using var document = JsonDocument.Parse(json);
            return document.RootElement.TryGetProperty("etag", out var etag) ? etag.GetString() : null;
        }
    }
}
