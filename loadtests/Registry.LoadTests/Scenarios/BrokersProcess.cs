using System.Diagnostics;
using System.Globalization;

namespace Registry.LoadTests.Scenarios;

/// <summary>
/// <c>heartbeat-mqtt</c>'s brokers in a child process of the harness: the registry (memory storage, authentication on,
/// its devices registered) and the bare broker. Used when this process cannot hold both ends of every connection
/// under its limit on open files (10,000 devices under a hard limit of 20,000). The child is this same program run as
/// <c>Registry.LoadTests mqtt-brokers DEVICES</c> under the host's GC settings; it prints its progress, then one line <c>ready REGISTRY-PORT
/// BARE-PORT</c>, and stops when its standard input closes (also when this process dies).
/// </summary>
internal sealed class BrokersProcess : IAsyncDisposable
{
    public const string Command = "mqtt-brokers";

    private const string Ready = "ready ";

    /// <summary>How long the child gets to register its devices and open its ports.</summary>
    private static readonly TimeSpan StartLimit = TimeSpan.FromMinutes(10);

    private readonly Process _process;

    private BrokersProcess(Process process, int registryPort, int barePort)
    {
        _process = process;
        RegistryPort = registryPort;
        BarePort = barePort;
    }

    public int RegistryPort { get; }

    public int BarePort { get; }

    public int ProcessId => _process.Id;

    public static async Task<BrokersProcess> StartAsync(int devices, Action<string> log, CancellationToken cancel)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // The registry's process runs the host's GC (workstation, concurrent: Registry.Host.csproj says why), not the
        // harness's server GC, unless the caller's environment chooses.
        if (Environment.GetEnvironmentVariable("DOTNET_gcServer") is null)
        {
            start.Environment["DOTNET_gcServer"] = "0";
        }
        start.ArgumentList.Add(typeof(BrokersProcess).Assembly.Location);
        start.ArgumentList.Add(Command);
        start.ArgumentList.Add(devices.ToString(CultureInfo.InvariantCulture));
        var process = Process.Start(start) ?? throw new InvalidOperationException("Cannot start the brokers' process.");
        var errors = process.StandardError.ReadToEndAsync(CancellationToken.None);
        try
        {
            using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            bounded.CancelAfter(StartLimit);
            while (await process.StandardOutput.ReadLineAsync(bounded.Token) is { } line)
            {
                if (!line.StartsWith(Ready, StringComparison.Ordinal))
                {
                    log(line);
                    continue;
                }
                var ports = line[Ready.Length..].Split(' ');
                var brokers = new BrokersProcess(process, int.Parse(ports[0], CultureInfo.InvariantCulture), int.Parse(ports[1], CultureInfo.InvariantCulture));
                // Its further output (none expected) is read so a full pipe never blocks it.
                _ = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
                return brokers;
            }
            await process.WaitForExitAsync(CancellationToken.None);
            throw new InvalidOperationException($"The brokers' process ended (exit code {process.ExitCode}) before it was ready: {(await errors).Trim()}");
        }
        catch
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
            process.Dispose();
            throw;
        }
    }

    /// <summary>The child's side: starts the brokers, says where they listen, and serves until its input closes.</summary>
    public static async Task<int> ServeAsync(string[] args)
    {
        if (args.Length != 1 || !int.TryParse(args[0], CultureInfo.InvariantCulture, out var devices) || devices < 1)
        {
            await Console.Error.WriteLineAsync($"usage: Registry.LoadTests {Command} DEVICES");
            return 2;
        }
        var (target, bare) = await HeartbeatMqttScenario.StartBrokersAsync(devices, HeartbeatMqttScenario.Ids(devices), Console.WriteLine, CancellationToken.None);
        await using (target)
        {
            await using (bare)
            {
                Console.WriteLine($"{Ready}{target.MqttPort} {bare.Port}");
                while (await Console.In.ReadLineAsync() is not null)
                {
                    // Nothing to read: the parent closes its end when the run ends.
                }
            }
        }
        return 0;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            _process.StandardInput.Close();
            using var bounded = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await _process.WaitForExitAsync(bounded.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
        }
        finally
        {
            _process.Dispose();
        }
    }
}
