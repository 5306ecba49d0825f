using System.Diagnostics.Metrics;
using System.Net;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Observability;

/// <summary>
/// <c>/metrics</c> carries no address in its labels, so an operator's Prometheus does not grow with every silo restart:
/// Orleans labels its ping counters and message-size histograms with the remote silo's address (a new one per silo
/// incarnation), Kestrel its connection instruments with the listen address and port, and the SDK's target_info the
/// process id. The Orleans measurements are recorded here on instruments of the same meter and names, as a silo records
/// them once it talks to another silo (a single in-process silo has none to talk to).
/// </summary>
public sealed class MetricLabelTests
{
    [Fact(Timeout = 120_000)]
    public async Task A_scrape_has_no_silo_address_listen_address_or_process_id_in_its_labels_and_keeps_the_instruments()
    {
        var ct = TestContext.Current.CancellationToken;
        var port = FreePorts.Take(1)[0];
        await using var host = await RegistryTestHost.StartAsync(new Dictionary<string, string?> { ["Registry:Observability:Port"] = $"{port}" });
        using var orleans = new Meter(Registry.Host.Observability.OrleansMeter);
        orleans.CreateCounter<long>("orleans-messaging-pings-sent").Add(1, new KeyValuePair<string, object?>("Destination", "S127.0.0.2:11111:123456789"));
        orleans.CreateHistogram<long>("orleans-messaging-sent-messages-size").Record(100,
            new("ConnectionDirection", "SiloToSilo"), new("MessageDirection", "Request"), new("silo", "S127.0.0.2:11111:123456789"));
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };

        // Kestrel's connection instruments have a value once a connection was counted: scraped until they do (a CI run
        // once scraped before it), the test's timeout bounding the wait.
        var scrape = await http.GetStringAsync("metrics", ct);
        while (Lines(scrape, "kestrel_active_connections{").Count == 0)
        {
            await Task.Delay(100, ct);
            scrape = await http.GetStringAsync("metrics", ct);
        }

        Assert.DoesNotContain("silo=\"", scrape, StringComparison.Ordinal);
        Assert.DoesNotContain("Destination=\"", scrape, StringComparison.Ordinal);
        Assert.DoesNotContain("server_address=", scrape, StringComparison.Ordinal);
        Assert.DoesNotContain("server_port=", scrape, StringComparison.Ordinal);
        Assert.Contains($"service_instance_id=\"{Dns.GetHostName()}:{port}\"", scrape, StringComparison.Ordinal);
        Assert.All(Lines(scrape, "target_info{"), l => Assert.DoesNotContain($"{Environment.ProcessId}", l, StringComparison.Ordinal));
        // Aggregated over the dropped labels, not dropped themselves (other silos of this test process count there too).
        Assert.NotEmpty(Lines(scrape, "orleans_messaging_pings_sent_total{"));
        Assert.Contains(Lines(scrape, "orleans_messaging_sent_messages_size_count{"), l => l.Contains("MessageDirection=\"Request\"", StringComparison.Ordinal));
        Assert.Contains(Lines(scrape, "kestrel_active_connections{"), l => l.Contains("network_transport=", StringComparison.Ordinal));
    }

    private static List<string> Lines(string scrape, string start) =>
        [.. scrape.Split('\n').Where(l => l.StartsWith(start, StringComparison.Ordinal))];
}
