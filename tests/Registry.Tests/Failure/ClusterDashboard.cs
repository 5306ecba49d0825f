using System.Globalization;
using System.Text;
using Registry.Tests.Observability;

namespace Registry.Tests.Failure;

/// <summary>
/// What an operator's dashboard shows of a cluster of processes: every process's <c>/metrics</c> scraped once a second, as
/// Prometheus does, each scrape kept as the registry's series a dashboard plots. A process that does not answer within
/// the scrape timeout is a failed scrape (Prometheus' <c>up</c> = 0), kept as such: a killed silo shows as one.
/// </summary>
public sealed class ClusterDashboard : IAsyncDisposable
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    /// <summary>Below Prometheus' default 10 s, so a scrape is done before the next but one is due.</summary>
    private static readonly TimeSpan ScrapeTimeout = TimeSpan.FromSeconds(5);

    private readonly IReadOnlyList<DashboardTarget> _targets;
    private readonly HttpClient _http = new() { Timeout = ScrapeTimeout };
    private readonly List<DashboardRow> _rows = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _watching;

    /// <summary>Starts scraping <paramref name="targets"/> at once, then every <see cref="Interval"/>.</summary>
    public ClusterDashboard(IEnumerable<DashboardTarget> targets)
    {
        _targets = [.. targets];
        _watching = WatchAsync();
    }

    public IReadOnlyList<DashboardTarget> Targets => _targets;

    /// <summary>The scrapes so far, oldest first.</summary>
    public IReadOnlyList<DashboardRow> Rows
    {
        get
        {
            lock (_rows)
            {
                return [.. _rows];
            }
        }
    }

    /// <summary>Returns once <paramref name="condition"/> holds over the scrapes so far; the test's token bounds the wait.</summary>
    public Task UntilAsync(Func<IReadOnlyList<DashboardRow>, bool> condition, CancellationToken ct) =>
        FailureSteps.UntilAsync(() => condition(Rows), ct);

    /// <summary>Returns once a scrape begun after now is kept.</summary>
    public Task NextScrapeAsync(CancellationToken ct)
    {
        var now = DateTimeOffset.UtcNow;
        return UntilAsync(rows => rows.Count > 0 && rows[^1].At >= now, ct);
    }

    /// <summary>Stops scraping; the rows stay.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await _watching;
    }

    /// <summary>
    /// The scrapes as a dashboard's panels over time, one line a scrape, <paramref name="zero"/> (the failure) at 0 s:
    /// per silo the heartbeats it counted since the previous scrape (<c>down</c>: its scrape failed); the gateway's
    /// operations answered since the previous scrape by status (2xx, 503, any other); and, summed over the silos that
    /// answered, connected devices, registered devices and missed-heartbeat alerts so far.
    /// </summary>
    public string Table(DateTimeOffset zero)
    {
        var rows = Rows;
        var silos = _targets.Where(t => !t.IsGateway).ToList();
        var gateways = _targets.Where(t => t.IsGateway).ToList();
        var text = new StringBuilder();
        text.Append("     t s |");
        foreach (var silo in silos)
        {
            text.Append(CultureInfo.InvariantCulture, $" {"hb " + silo.Name,12}");
        }
        foreach (var gateway in gateways)
        {
            text.Append(CultureInfo.InvariantCulture, $" | {gateway.Name + " 2xx",12} {"503",5} {"other",5}");
        }
        text.Append(" | connected registered missed\n");
        for (var i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            text.Append(CultureInfo.InvariantCulture, $"{(row.At - zero).TotalSeconds,8:0.0} |");
            foreach (var silo in silos)
            {
                text.Append(CultureInfo.InvariantCulture, $" {Since(rows, i, silo, r => r.Heartbeats),12}");
            }
            foreach (var gateway in gateways)
            {
                text.Append(CultureInfo.InvariantCulture,
                    $" | {Since(rows, i, gateway, r => r.Operations(s => s is >= 200 and < 300)),12} {Since(rows, i, gateway, r => r.Operations(s => s == 503)),5} {Since(rows, i, gateway, r => r.Operations(s => s is < 200 or >= 300 and not 503)),5}");
            }
            var answered = silos.Select(s => row[s]).OfType<MetricsReading>().ToList();
            text.Append(CultureInfo.InvariantCulture,
                $" | {answered.Sum(r => r.Connected),9} {answered.Sum(r => r.Registered),10} {answered.Sum(r => r.MissedAlerts),6}\n");
        }
        return text.ToString();
    }

    /// <summary>How much <paramref name="value"/> of <paramref name="target"/> rose since the previous scrape; "down" when it did not answer.</summary>
    private static string Since(IReadOnlyList<DashboardRow> rows, int i, DashboardTarget target, Func<MetricsReading, double> value) =>
        rows[i][target] is not { } now ? "down"
        : i == 0 || rows[i - 1][target] is not { } before ? "·"
        : (value(now) - value(before)).ToString("0", CultureInfo.InvariantCulture);

    private async Task WatchAsync()
    {
        await Task.Yield();
        using var timer = new PeriodicTimer(Interval);
        try
        {
            do
            {
                var at = DateTimeOffset.UtcNow;
                var readings = await Task.WhenAll(_targets.Select(ScrapeAsync));
                lock (_rows)
                {
                    _rows.Add(new DashboardRow(at, _targets, readings));
                }
            }
            while (await timer.WaitForNextTickAsync(_stop.Token));
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }

    private async Task<MetricsReading?> ScrapeAsync(DashboardTarget target)
    {
        try
        {
            var text = await _http.GetStringAsync(new Uri($"http://127.0.0.1:{target.Port.ToString(CultureInfo.InvariantCulture)}/metrics"), _stop.Token);
            // The registry's own series only: Orleans' and ASP.NET Core's are most of the text and none of the panels.
            var scrape = new ObservedRegistryFixture.Scrape(string.Join('\n', text.Split('\n').Where(l => l.StartsWith("registry_", StringComparison.Ordinal))));
            return new MetricsReading(
                scrape.Sum("registry_heartbeats_total"),
                scrape.Sum("registry_heartbeat_alerts_total", ("alert", "missed")),
                scrape.Sum("registry_devices_connected"),
                scrape.Sum("registry_devices"),
                scrape.SumBy("registry_operations_total", "http_response_status_code"));
        }
        catch (Exception e) when (e is HttpRequestException || e is TaskCanceledException && !_stop.IsCancellationRequested)
        {
            return null; // refused, reset or timed out: the scrape failed
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stop.Dispose();
        _http.Dispose();
    }
}

/// <summary>A process a <see cref="ClusterDashboard"/> scrapes: its name in the table, its management port, and whether it is a gateway.</summary>
public sealed record DashboardTarget(string Name, int Port, bool IsGateway);

/// <summary>One scrape of every target, begun at <see cref="At"/>: each target's reading, or null where the scrape failed.</summary>
public sealed class DashboardRow(DateTimeOffset at, IReadOnlyList<DashboardTarget> targets, IReadOnlyList<MetricsReading?> readings)
{
    public DateTimeOffset At => at;

    public MetricsReading? this[DashboardTarget target] => readings[IndexOf(target)];

    private int IndexOf(DashboardTarget target)
    {
        for (var i = 0; i < targets.Count; i++)
        {
            if (targets[i] == target)
            {
                return i;
            }
        }
        throw new ArgumentException($"{target.Name} is not scraped", nameof(target));
    }
}

/// <summary>
/// What one process's scrape showed of the registry's series: heartbeats counted (<c>registry_heartbeats_total</c>),
/// missed-heartbeat alerts (<c>registry_heartbeat_alerts_total{alert="missed"}</c>), connected devices
/// (<c>registry_devices_connected</c>), registered devices (<c>registry_devices</c>) and operations answered by status
/// (<c>registry_operations_total</c> by <c>http_response_status_code</c>).
/// </summary>
public sealed record MetricsReading(double Heartbeats, double MissedAlerts, double Connected, double Registered, IReadOnlyDictionary<string, double> OperationsByStatus)
{
    /// <summary>Operations answered with a status <paramref name="status"/> accepts.</summary>
    public double Operations(Func<int, bool> status) =>
        OperationsByStatus.Where(o => int.TryParse(o.Key, NumberStyles.None, CultureInfo.InvariantCulture, out var code) && status(code)).Sum(o => o.Value);
}
