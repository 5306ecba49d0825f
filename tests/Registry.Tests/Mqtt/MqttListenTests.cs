using System.Net;
using System.Net.Sockets;
using Registry.Tests.Host;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Mqtt;

/// <summary>
/// The MQTT port as an operator meets it: it joins the exclusive port checks (a taken one stops the start with one
/// line and exit code 1), the listening line names it, and it is bound on the listen address only.
/// </summary>
public sealed class MqttListenTests
{
    [Fact(Timeout = 120_000)]
    public async Task A_taken_mqtt_port_stops_the_start_with_exit_code_1_and_one_line_naming_it()
    {
        var ct = TestContext.Current.CancellationToken;
        var work = Directory.CreateTempSubdirectory("registry-proc-").FullName;
        var data = Path.Combine(work, "data");
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        await using var host = RegistryProcess.Start(work, [.. SecondStartTests.Arguments(data, FreePorts.Take(3)), $"--Registry:MqttPort={port}"]);

        var exitCode = await SecondStartTests.ExitCodeUnlessListening(host, ct);

        Assert.Equal(1, exitCode);
        var line = Assert.Single(host.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.Contains($"Another process is using Registry:MqttPort 127.0.0.1:{port}", line, StringComparison.Ordinal);
    }

    [Fact(Timeout = 120_000)]
    public async Task The_listening_line_names_the_mqtt_endpoint_which_is_bound_on_the_listen_address_only()
    {
        var ct = TestContext.Current.CancellationToken;
        var work = Directory.CreateTempSubdirectory("registry-proc-").FullName;
        await using var host = RegistryProcess.Start(work, SecondStartTests.Arguments(Path.Combine(work, "data"), FreePorts.Take(3)));
        await host.WaitUntilListeningAsync(ct);

        var line = host.Output.Split('\n').Single(l => l.Contains(RegistryProcess.ListeningLine, StringComparison.Ordinal));
        var endpoint = System.Text.RegularExpressions.Regex.Match(line, @"mqtts://127\.0\.0\.1:(\d+)");
        Assert.True(endpoint.Success, line);
        var port = int.Parse(endpoint.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);

        // Another loopback address, same port: free unless the edge took every address (MQTTnet's default).
        using var other = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        other.Bind(new IPEndPoint(IPAddress.Parse("127.0.0.2"), port));
        other.Listen();
        Assert.Equal(0, await host.TerminateAsync(ct));
    }
}
