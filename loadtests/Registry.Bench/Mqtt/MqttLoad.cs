using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using HdrHistogram;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Registry.Bench.Mqtt;

/// <summary>What one load run against one broker measured (the child process prints it as one JSON line).</summary>
internal sealed record MqttLoadResult(
    string Target, int Connections, double ConnectSeconds, int ConnectFailures,
    double ClosedMessagesPerSecond, double ClosedP99Ms, long ClosedFailures,
    double OpenRate, double OpenAchievedPerSecond, double OpenP50Ms, double OpenP99Ms, double OpenMaxMs, long OpenFailures)
{
    /// <summary>The load generator's own GC pauses during the open phase (they delay sends, so they count in its latency).</summary>
    public GcPauseStats? ClientGc { get; init; }
}

/// <summary>
/// The load generator, run as a child process (<c>mqtt-load</c>) so the broker's memory per connection is measured
/// without the clients' own. It connects every device over TLS, prints <c>connected</c>, waits for a line on stdin (the
/// parent measures its memory meanwhile), then runs a closed phase (every connection keeps one QoS 1 publish in
/// flight) and an open phase (publishes injected at a fixed rate, latency from the intended send time, so an overloaded
/// broker cannot hide it), prints the result as JSON and disconnects.
/// </summary>
internal static class MqttLoad
{
    public static async Task<int> RunAsync(string[] args)
    {
        string Arg(string name) => args[Array.IndexOf(args, name) + 1];
        var target = Arg("--target");
        var port = int.Parse(Arg("--port"), CultureInfo.InvariantCulture);
        var connections = int.Parse(Arg("--connections"), CultureInfo.InvariantCulture);
        var prefix = Arg("--prefix");
        var key = Arg("--key");
        var hostName = Arg("--host-name");
        var seconds = TimeSpan.FromSeconds(double.Parse(Arg("--seconds"), CultureInfo.InvariantCulture));
        var rate = double.Parse(Arg("--rate"), CultureInfo.InvariantCulture);
        var payload = new byte[int.Parse(Arg("--payload"), CultureInfo.InvariantCulture)];

        using var gcPauses = new GcPauses();
        var factory = new MqttClientFactory();
        var clients = new IMqttClient[connections];
        var topics = new string[connections];
        long connectFailures = 0;
        var connect = Stopwatch.StartNew();
        var expiry = DateTimeOffset.UtcNow.AddHours(2);
        await Parallel.ForEachAsync(Enumerable.Range(0, connections), new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, cancel) =>
        {
            var id = $"{prefix}{i:D6}";
            var options = DeviceOptions(id, port, hostName, key, expiry);
            var client = factory.CreateMqttClient();
            try
            {
                var result = await client.ConnectAsync(options, cancel);
                if (result.ResultCode != MqttClientConnectResultCode.Success)
                {
                    Interlocked.Increment(ref connectFailures);
                }
            }
            catch (Exception)
            {
                Interlocked.Increment(ref connectFailures);
            }
            clients[i] = client;
            topics[i] = $"devices/{id}/messages/events/";
        });
        connect.Stop();
        Console.WriteLine("connected");
        await Console.In.ReadLineAsync();

        // Closed: every connection keeps one publish in flight for the whole phase.
        var closedHistogram = new LongConcurrentHistogram(1, TimeStamp.Minutes(1), 3);
        long closedCount = 0, closedFailures = 0;
        var closed = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, connections).Select(i => Task.Run(async () =>
        {
            var message = new MqttApplicationMessageBuilder().WithTopic(topics[i]).WithPayload(payload)
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build();
            while (closed.Elapsed < seconds && clients[i].IsConnected)
            {
                var start = Stopwatch.GetTimestamp();
                try
                {
                    await clients[i].PublishAsync(message);
                    closedHistogram.RecordValue(Math.Max(1, Stopwatch.GetTimestamp() - start));
                    Interlocked.Increment(ref closedCount);
                }
                catch (Exception)
                {
                    Interlocked.Increment(ref closedFailures);
                }
            }
        })));
        var closedSeconds = closed.Elapsed.TotalSeconds;

        // Open: publishes at a fixed rate, round-robin over the connections; latency counts from the intended send time.
        var openHistogram = new LongConcurrentHistogram(1, TimeStamp.Minutes(1), 3);
        Console.WriteLine("open"); // the parent starts counting the broker's GC pauses of this phase
        gcPauses.Take();
        long openCount = 0, openFailures = 0;
        var total = (long)(rate * seconds.TotalSeconds);
        var pending = new List<Task>((int)Math.Min(total, 10_000_000));
        var open = Stopwatch.StartNew();
        var ticksPerMessage = Stopwatch.Frequency / rate;
        for (long n = 0; n < total; n++)
        {
            var intended = (long)(n * ticksPerMessage);
            var wait = intended - open.ElapsedTicks;
            if (wait > Stopwatch.Frequency / 1000)
            {
                await Task.Delay(TimeSpan.FromSeconds((double)wait / Stopwatch.Frequency));
            }
            var i = (int)(n % connections);
            var intendedTimestamp = intended;
            pending.Add(Task.Run(async () =>
            {
                try
                {
                    await clients[i].PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topics[i]).WithPayload(payload)
                        .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
                    openHistogram.RecordValue(Math.Max(1, open.ElapsedTicks - intendedTimestamp));
                    Interlocked.Increment(ref openCount);
                }
                catch (Exception)
                {
                    Interlocked.Increment(ref openFailures);
                }
            }));
        }
        await Task.WhenAll(pending);
        var openSeconds = open.Elapsed.TotalSeconds;
        var clientGc = gcPauses.Take();

        double Ms(LongConcurrentHistogram h, double percentile) => h.TotalCount == 0 ? 0 : h.GetValueAtPercentile(percentile) * 1000.0 / Stopwatch.Frequency;
        var result = new MqttLoadResult(target, connections, connect.Elapsed.TotalSeconds, (int)connectFailures,
            closedCount / closedSeconds, Ms(closedHistogram, 99), closedFailures,
            rate, openCount / openSeconds, Ms(openHistogram, 50), Ms(openHistogram, 99), Ms(openHistogram, 100), openFailures)
        {
            ClientGc = clientGc,
        };
        Console.WriteLine(JsonSerializer.Serialize(result));
        await Task.WhenAll(clients.Where(c => c.IsConnected).Select(c => c.DisconnectAsync()));
        return 0;
    }

    /// <summary>
    /// How a device connects, as the Azure IoT device SDKs do over MQTT 3.1.1: client id = device id, user name
    /// <c>host/device/?api-version=…</c>, the device's own SAS token as password, TLS (the development certificate is
    /// trusted as is: the load is not a certificate test).
    /// </summary>
    internal static MqttClientOptions DeviceOptions(string deviceId, int port, string hostName, string key, DateTimeOffset expiry) =>
        new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", port)
            .WithClientId(deviceId)
            .WithCredentials($"{hostName}/{deviceId}/?api-version=2021-04-12", Gateway.Security.SharedAccessSignature.Create($"{hostName}/devices/{deviceId}", key, null, expiry))
            .WithProtocolVersion(MqttProtocolVersion.V311)
            .WithCleanSession(false)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(180))
            .WithTimeout(TimeSpan.FromSeconds(60))
            .WithoutPacketFragmentation()
            .WithTlsOptions(tls => tls.WithCertificateValidationHandler(_ => true))
            .Build();
}
