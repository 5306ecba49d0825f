using System.Collections.Concurrent;
using System.Net;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Failure;

/// <summary>
/// Devices heartbeating over HTTPS (<c>POST /devices/{id}/messages/events</c>, the empty <c>heartbeat</c> message) through
/// a gateway, each on its own pace, as real devices do: one device's slow answer never delays another's beat. Keeps, per
/// device, when its last acknowledged beat was sent and when it was first served after a mark (a kill).
/// </summary>
public sealed class BeatingDevices : IAsyncDisposable
{
    private readonly Func<HttpClient> _http;
    private readonly TimeSpan _period;
    private readonly ConcurrentDictionary<string, Beats> _devices = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<string, Task> _loops = new(StringComparer.Ordinal);
    private DateTimeOffset _mark = DateTimeOffset.MaxValue;

    /// <summary><paramref name="http"/> is asked before each beat, so a caller may move the devices to another gateway.</summary>
    public BeatingDevices(Func<HttpClient> http, IEnumerable<string> ids, TimeSpan period)
    {
        _http = http;
        _period = period;
        foreach (var id in ids)
        {
            _devices[id] = new Beats();
        }
    }

    public IReadOnlyCollection<string> Ids => (IReadOnlyCollection<string>)_devices.Keys;

    /// <summary>Answers other than 204 (status code, or 0 for no answer), with how often each came.</summary>
    public ConcurrentDictionary<int, int> Refusals { get; } = new();

    /// <summary>Why beats got no answer (exception type and message), with how often each came: for a failure's message.</summary>
    public ConcurrentDictionary<string, int> NoAnswers { get; } = new();

    /// <summary>Starts every device's loop, spread over one period so the beats do not come in waves.</summary>
    public void Start()
    {
        var step = _period / Math.Max(1, _devices.Count);
        var i = 0;
        foreach (var (id, beats) in _devices)
        {
            _loops[id] = BeatAsync(id, beats, step * i++);
        }
    }

    /// <summary>From now on, record when each device is first served.</summary>
    public void Mark()
    {
        foreach (var beats in _devices.Values)
        {
            beats.FirstServedSinceMark = null;
        }
        _mark = DateTimeOffset.UtcNow;
    }

    /// <summary>Stops <paramref name="ids"/> beating (the loop ends after its beat in flight).</summary>
    public void Silence(IEnumerable<string> ids)
    {
        foreach (var id in ids)
        {
            _devices[id].Silenced = true;
        }
    }

    /// <summary>Returns once the silenced <paramref name="ids"/> have no beat in flight (their loops ended).</summary>
    public Task DrainAsync(IEnumerable<string> ids, CancellationToken ct) =>
        Task.WhenAll(ids.Select(id => _loops[id])).WaitAsync(ct);

    /// <summary>When the last beat of <paramref name="id"/> that was acknowledged had been sent.</summary>
    public DateTimeOffset LastAcknowledgedSend(string id) => _devices[id].LastAcknowledgedSend;

    /// <summary>
    /// The longest time between two acknowledged beats of <paramref name="id"/>, leaving out the one gap that spans the last
    /// <see cref="Mark"/> (the failure under test): a device with a longer gap than its deadline elsewhere was really silent,
    /// because the overloaded machine did not serve it, and may rightly be announced.
    /// </summary>
    public TimeSpan LongestGap(string id)
    {
        var beats = _devices[id];
        var trailing = beats.LastAcknowledgedSend >= _mark ? DateTimeOffset.UtcNow - beats.LastAcknowledgedSend : TimeSpan.Zero;
        return trailing > beats.LongestGap ? trailing : beats.LongestGap;
    }

    /// <summary>When <paramref name="id"/> was first served after <see cref="Mark"/>, or null if not yet.</summary>
    public DateTimeOffset? FirstServedSinceMark(string id) => _devices[id].FirstServedSinceMark;

    /// <summary>Returns once every device of <paramref name="ids"/> has been served since <see cref="Mark"/>.</summary>
    public async Task UntilServedSinceMarkAsync(IEnumerable<string> ids, CancellationToken ct)
    {
        var waiting = ids.ToList();
        while (waiting.Any(id => _devices[id].FirstServedSinceMark is null))
        {
            await Task.Delay(100, ct); // polls what the device loops record
        }
    }

    private async Task BeatAsync(string id, Beats beats, TimeSpan offset)
    {
        try
        {
            await Task.Delay(offset, _stop.Token);
            while (!beats.Silenced && !_stop.IsCancellationRequested)
            {
                var sent = DateTimeOffset.UtcNow;
                var status = await SendAsync(id);
                if (status == (int)HttpStatusCode.NoContent)
                {
                    // The gap since the last acknowledged beat, unless it spans the mark (the failure under test).
                    if (beats.LastAcknowledgedSend != default && (beats.LastAcknowledgedSend >= _mark || sent < _mark) && sent - beats.LastAcknowledgedSend > beats.LongestGap)
                    {
                        beats.LongestGap = sent - beats.LastAcknowledgedSend;
                    }
                    beats.LastAcknowledgedSend = sent;
                    if (sent >= _mark && beats.FirstServedSinceMark is null)
                    {
                        beats.FirstServedSinceMark = DateTimeOffset.UtcNow;
                    }
                }
                else
                {
                    Refusals.AddOrUpdate(status, 1, (_, n) => n + 1);
                }
                await Task.Delay(_period, _stop.Token); // the device's pace, not a wait for anything
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }

    private async Task<int> SendAsync(string id)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"devices/{Uri.EscapeDataString(id)}/messages/events?{ApiVersion}")
            {
                Content = new ByteArrayContent([]),
            };
            request.Headers.Add("iothub-app-heartbeat", "true");
            using var response = await _http().SendAsync(request, _stop.Token);
            return (int)response.StatusCode;
        }
        catch (Exception e) when (e is HttpRequestException || e is TaskCanceledException && !_stop.IsCancellationRequested)
        {
            var why = $"{e.GetType().Name}: {e.Message} {e.InnerException?.Message}";
            NoAnswers.AddOrUpdate(why, 1, (_, n) => n + 1);
            return 0;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_loops.Values);
        _stop.Dispose();
    }

    private sealed class Beats
    {
        public volatile bool Silenced;
        public DateTimeOffset LastAcknowledgedSend;
        public TimeSpan LongestGap;
        public DateTimeOffset? FirstServedSinceMark;
    }
}

/// <summary>
/// Registry writes (creates of new devices through <c>PUT /devices/{id}</c>) by a few concurrent writers, with a ledger
/// of every acknowledged one: the id and the ETag the 200 carried. Whatever else answered is counted by status. Given
/// several gateways, a writer whose gateway does not answer at all moves to the next one, as a client with a list of
/// addresses does.
/// </summary>
public sealed class WriteLedger : IAsyncDisposable
{
    /// <summary>
    /// How long each writer waits between its writes: a steady stream through every failure (about 30 writes/s from four
    /// writers here) instead of as many as the machine takes (about 120/s), which loaded Azurite and the silos beside the
    /// failure under test and left thousands of writes to read back (most of a minute of the suite per test).
    /// </summary>
    private static readonly TimeSpan Pace = TimeSpan.FromMilliseconds(100);

    private readonly IReadOnlyList<HttpClient> _gateways;
    private readonly string _prefix;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _writers = [];
    private int _next;
    private int _current;

    public WriteLedger(HttpClient http, string prefix, int writers)
        : this([http], prefix, writers)
    {
    }

    public WriteLedger(IReadOnlyList<HttpClient> gateways, string prefix, int writers)
    {
        _gateways = gateways;
        _prefix = prefix;
        for (var i = 0; i < writers; i++)
        {
            _writers.Add(WriteAsync());
        }
    }

    /// <summary>Acknowledged creates: device id → the ETag of the 200.</summary>
    public ConcurrentDictionary<string, string> Acknowledged { get; } = new(StringComparer.Ordinal);

    /// <summary>Answers other than 200 (status code, or 0 for no answer), with how often each came.</summary>
    public ConcurrentDictionary<int, int> Refusals { get; } = new();

    /// <summary>When a write was first acknowledged by a gateway other than the first, or null.</summary>
    public DateTimeOffset? FirstAcknowledgedElsewhere { get; private set; }

    /// <summary>When a write sent after <see cref="Mark"/> was first acknowledged, or null.</summary>
    public DateTimeOffset? FirstAcknowledgedSinceMark { get; private set; }

    /// <summary>Creates that were answered with a refusal: each must be wholly there or wholly absent.</summary>
    public ConcurrentBag<string> Refused { get; } = [];

    private DateTimeOffset _mark = DateTimeOffset.MaxValue;

    /// <summary>From now on, record when a write is first acknowledged.</summary>
    public void Mark()
    {
        FirstAcknowledgedSinceMark = null;
        _mark = DateTimeOffset.UtcNow;
    }

    /// <summary>The error codes (iothub-errorcode) of the refusals, with how often each came.</summary>
    public ConcurrentDictionary<string, int> RefusalCodes { get; } = new();

    /// <summary>Returns once <paramref name="count"/> more writes have been acknowledged than when it was called.</summary>
    public async Task UntilAcknowledgedAsync(int count, CancellationToken ct)
    {
        var target = Acknowledged.Count + count;
        while (Acknowledged.Count < target)
        {
            await Task.Delay(50, ct); // polls what the writers record
        }
    }

    /// <summary>Stops writing and waits for the writes in flight to be answered.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_writers);
    }

    /// <summary>The ledger entries that <c>GET</c> does not answer as acknowledged (missing, or another ETag).</summary>
    public async Task<List<string>> LostAsync(HttpClient http)
    {
        var lost = new ConcurrentBag<string>();
        await Parallel.ForEachAsync(Acknowledged, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (entry, _) =>
        {
            using var response = await http.GetDeviceAsync(entry.Key);
            var etag = response.StatusCode == HttpStatusCode.OK
                ? (string?)System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync())?["etag"]
                : null;
            if (etag != entry.Value)
            {
                lost.Add($"{entry.Key}: {(int)response.StatusCode} etag {etag}, acknowledged {entry.Value}");
            }
        });
        return [.. lost];
    }

    private async Task WriteAsync()
    {
        await Task.Yield();
        while (!_stop.IsCancellationRequested)
        {
            var id = $"{_prefix}-{Interlocked.Increment(ref _next)}";
            var gateway = Volatile.Read(ref _current);
            var sent = DateTimeOffset.UtcNow;
            try
            {
                using var response = await _gateways[gateway].PutDeviceAsync(id, Json(new { deviceId = id }));
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    var device = await response.ReadDeviceAsync(HttpStatusCode.OK);
                    Acknowledged[id] = (string)device["etag"]!;
                    if (sent >= _mark && FirstAcknowledgedSinceMark is null)
                    {
                        FirstAcknowledgedSinceMark = DateTimeOffset.UtcNow;
                    }
                    if (gateway > 0 && FirstAcknowledgedElsewhere is null)
                    {
                        FirstAcknowledgedElsewhere = DateTimeOffset.UtcNow;
                    }
                }
                else
                {
                    Refused.Add(id);
                    Refusals.AddOrUpdate((int)response.StatusCode, 1, (_, n) => n + 1);
                    var code = response.Headers.TryGetValues(ErrorCodeHeader, out var codes) ? codes.First() : "";
                    RefusalCodes.AddOrUpdate(code, 1, (_, n) => n + 1);
                }
            }
            catch (Exception e) when (e is HttpRequestException || e is TaskCanceledException && !_stop.IsCancellationRequested)
            {
                // No answer: the write may or may not have been applied, so it is not in the ledger; try the next gateway.
                Refusals.AddOrUpdate(0, 1, (_, n) => n + 1);
                Interlocked.CompareExchange(ref _current, (gateway + 1) % _gateways.Count, gateway);
            }
            try
            {
                await Task.Delay(Pace, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return; // stopped
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stop.Dispose();
    }
}
