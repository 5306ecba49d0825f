using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Observability;

/// <summary>OTLP export (<c>Registry:Otlp:Endpoint</c>) to a collector that answers, and to one that never does.</summary>
public sealed class OtlpExportTests
{
    [Fact(Timeout = 120_000)]
    public async Task Traces_and_metrics_reach_an_http_protobuf_collector_by_the_time_the_host_has_stopped()
    {
        var collector = new StubHttpServer();

        var host = await RegistryTestHost.StartAsync(Otlp(collector.Address, shutdownSeconds: 15));
        using (var http = host.CreateClient())
        {
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("healthz", TestContext.Current.CancellationToken)).StatusCode);
        }
        await host.DisposeAsync();
        await collector.DisposeAsync();

        Assert.Contains("POST /v1/traces", collector.Requests);
        Assert.Contains("POST /v1/metrics", collector.Requests);
    }

    /// <summary>
    /// Hostile review, 2026-12-05: with a collector that accepted connections and never answered, a stop at
    /// <c>ShutdownTimeoutSeconds=2</c> took 13-14 s, the exporters' last exports each waiting OpenTelemetry's 10 s. Each
    /// export now waits at most half the stop's bound (unless <c>OTEL_EXPORTER_OTLP_TIMEOUT</c> asks for less). The bound
    /// asserted is far above the ~2 s such a stop takes and far below the 10 s one export alone waited before.
    /// </summary>
    [Fact(Timeout = 120_000)]
    public async Task A_collector_that_never_answers_holds_a_stop_no_longer_than_its_bound()
    {
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var accepted = new ConcurrentBag<TcpClient>();
        using var stop = new CancellationTokenSource();
        var accepting = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    accepted.Add(await silent.AcceptTcpClientAsync(stop.Token)); // read nothing, answer nothing
                }
            }
            catch (OperationCanceledException)
            {
            }
        });
        var port = ((IPEndPoint)silent.LocalEndpoint).Port;

        var host = await RegistryTestHost.StartAsync(Otlp($"http://127.0.0.1:{port}", shutdownSeconds: 1));
        using (var http = host.CreateClient())
        {
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("healthz", TestContext.Current.CancellationToken)).StatusCode);
        }
        var stopping = Stopwatch.StartNew();
        await host.DisposeAsync();
        var took = stopping.Elapsed;
        await stop.CancelAsync();
        await accepting;
        foreach (var client in accepted)
        {
            client.Dispose();
        }

        Assert.NotEmpty(accepted); // the exporters did try the collector
        Assert.True(took < TimeSpan.FromSeconds(8), $"the stop took {took.TotalSeconds:0.0} s at ShutdownTimeoutSeconds=1 with a collector that never answers");
    }

    private static Dictionary<string, string?> Otlp(string endpoint, int shutdownSeconds) => new()
    {
        ["Registry:Otlp:Endpoint"] = endpoint,
        ["Registry:Otlp:Protocol"] = "http/protobuf",
        ["Registry:ShutdownTimeoutSeconds"] = $"{shutdownSeconds}",
    };
}
