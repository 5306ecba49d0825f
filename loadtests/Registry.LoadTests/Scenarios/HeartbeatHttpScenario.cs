using System.Globalization;
using Registry.LoadTests.Harness;

namespace Registry.LoadTests.Scenarios;

/// <summary>
/// <c>heartbeat-http</c>: devices sending telemetry through the HTTPS device endpoint
/// (<c>POST /devices/{id}/messages/events</c>), each with its own SAS token as the device SDKs send it, which the
/// registry counts as a heartbeat. Its ceiling is a no-op Kestrel <c>POST</c> on the same certificate with the same body.
/// </summary>
internal sealed class HeartbeatHttpScenario : IScenario
{
    private static readonly byte[] Body = "{\"heartbeat\":true}"u8.ToArray();
    private readonly int _devices;
    private readonly TimeSpan? _interval;
    private readonly List<string> _notes = [];
    private readonly List<IAsyncDisposable> _owned = [];

    public HeartbeatHttpScenario(Arguments args)
    {
        _devices = args.Int("--devices", 10_000, min: 1, max: ScenarioLimits.MaxHttpDevices);
        _interval = args.String("--interval") is null ? null : args.Duration("--interval", TimeSpan.Zero, positive: true);
        if (_interval is { } interval)
        {
            LoadModel.ForInterval(_devices, interval); // refused now, before anything starts, when it asks for too much
        }
        if (_interval is not null && args.String("--model") is not null)
        {
            // Both were taken and --interval was dropped without a word: the report gave only the model.
            throw new ArgumentException("--interval sets the load (an open model at devices ÷ interval); give --interval or --model, not both.");
        }
    }

    public LoadModel DefaultModel => _interval is { } interval ? LoadModel.ForInterval(_devices, interval) : LoadModel.Closed(64);

    public IReadOnlyList<string> Notes => _notes;

    public async Task<IReadOnlyList<Step>> PrepareAsync(ScenarioContext context, CancellationToken cancel)
    {
        var target = await RegistryTarget.StartInProcessAsync(_devices, mqtt: false, cancel);
        _owned.Add(target);
        _notes.Add("target: " + target.Description);
        var ids = Enumerable.Range(0, _devices).Select(i => string.Create(CultureInfo.InvariantCulture, $"http-{i:D7}")).ToArray();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await target.FillAsync(ids, context.Log, cancel);
        var tokens = ids.Select(RegistryTarget.DeviceToken).ToArray();
        _notes.Add(string.Create(CultureInfo.InvariantCulture, $"{_devices:N0} devices registered in {clock.Elapsed.TotalSeconds:0.0} s, each sending with its own SAS token (HTTPS, TLS on loopback)"));
        var model = context.Options.Model ?? DefaultModel;
        var http = target.CreateHttpClient(model.Kind == LoadKind.Closed ? (int)Math.Max(model.From, model.To) : 256);
        _owned.Add(new Disposer(() =>
        {
            http.Dispose();
            return ValueTask.CompletedTask;
        }));
        var baseAddress = target.InProcess!.BaseAddress;
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
            steps.Add(new Step("noop-kestrel-post", async (_, cancel) =>
            {
                using var response = await http.PostAsync(noopUri, new ByteArrayContent(Body), cancel);
                return response.IsSuccessStatusCode ? null : ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture);
            })
            {
                CeilingOf = "heartbeat-http",
                Description = "`POST /noop` on a Kestrel with the registry's certificate and nothing behind it (the ceiling)",
            });
        }
        steps.Add(new Step("heartbeat-http", async (n, cancel) =>
        {
            var i = (int)(n % ids.Length);
            using var request = new HttpRequestMessage(HttpMethod.Post, $"{baseAddress}/devices/{ids[i]}/messages/events?api-version=2021-04-12") { Content = new ByteArrayContent(Body) };
            request.Headers.TryAddWithoutValidation("Authorization", tokens[i]);
            using var response = await http.SendAsync(request, cancel);
            return response.IsSuccessStatusCode ? null : ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture);
        })
        {
            Description = "`POST /devices/{id}/messages/events` with the device's own SAS token, devices round-robin",
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

}

/// <summary>One entry in a scenario's list of what it started, undone in reverse order when it ends.</summary>
internal sealed class Disposer(Func<ValueTask> dispose) : IAsyncDisposable
{
    public ValueTask DisposeAsync() => dispose();
}
