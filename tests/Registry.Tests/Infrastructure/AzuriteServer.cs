using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Azure.Data.Tables;

[assembly: AssemblyFixture(typeof(Registry.Tests.Infrastructure.AzuriteFixture))]

namespace Registry.Tests.Infrastructure;

/// <summary>
/// A real Azurite (blob, queue, table) on free loopback ports, so storage-backed tests run against the
/// emulator's wire protocol rather than fakes. Started from tests/node (pinned by package-lock.json).
/// </summary>
public sealed class AzuriteServer : IAsyncDisposable
{
    public const string AccountName = "devstoreaccount1";
    public const string AccountKey =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);
    const int MaxPortAttempts = 5;

    // Exits node when our end of its stdin closes, so a crashed or killed test host leaves no orphan server.
    const string ExitWithParent = "data:text/javascript,process.stdin.on('end',()=>process.exit(0)).resume();";

    readonly Process process;
    readonly StringBuilder output;
    readonly string? location;
    readonly int[] ports;
    readonly TaskCompletionSource closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    int closedServices;
    int disposed;

    AzuriteServer(Process process, StringBuilder output, int blobPort, int queuePort, int tablePort, string? location)
    {
        this.process = process;
        this.output = output;
        this.location = location;
        ports = [blobPort, queuePort, tablePort];
        process.OutputDataReceived += (_, e) =>
        {
            // "Azurite Blob service successfully closed", the same for Queue and Table.
            if (e.Data?.Contains("service successfully closed", StringComparison.Ordinal) == true && Interlocked.Increment(ref closedServices) == 3)
                closed.TrySetResult();
        };
        BlobEndpoint = Endpoint(blobPort);
        QueueEndpoint = Endpoint(queuePort);
        TableEndpoint = Endpoint(tablePort);
        ConnectionString =
            $"DefaultEndpointsProtocol=http;AccountName={AccountName};AccountKey={AccountKey};" +
            $"BlobEndpoint={BlobEndpoint};QueueEndpoint={QueueEndpoint};TableEndpoint={TableEndpoint};";
    }

    public Uri BlobEndpoint { get; }
    public Uri QueueEndpoint { get; }
    public Uri TableEndpoint { get; }
    public string ConnectionString { get; }

    /// <summary>Whatever Azurite has printed so far (stdout and stderr interleaved).</summary>
    public string Output { get { lock (output) return output.ToString(); } }

    static Uri Endpoint(int port) => new($"http://127.0.0.1:{port}/{AccountName}");

    /// <summary>Starts Azurite and returns once all three services answer; throws with Azurite's output if not.</summary>
    public static Task<AzuriteServer> StartAsync(CancellationToken cancellationToken = default) =>
        StartAsync(location: null, cancellationToken);

    /// <summary>
    /// Starts Azurite keeping its data in <paramref name="location"/> (null: in memory), so that a test can stop it
    /// to simulate an outage and <see cref="RestartAsync"/> it with the data it held.
    /// </summary>
    public static async Task<AzuriteServer> StartAsync(string? location, CancellationToken cancellationToken = default)
    {
        var script = FindAzuriteScript();
        for (var attempt = 1; ; attempt++)
        {
            var ports = FreePorts.Take(3);
            var server = Launch(script, ports[0], ports[1], ports[2], location);
            try
            {
                await server.WaitUntilReadyAsync(ports, cancellationToken);
                return server;
            }
            catch (Exception e)
            {
                await server.DisposeAsync(); // waits for exit, so the output is complete
                var log = server.Output;
                if (attempt < MaxPortAttempts && log.Contains("EADDRINUSE", StringComparison.Ordinal))
                    continue; // another process took a port between our probe and Azurite's bind
                throw new InvalidOperationException(
                    $"Azurite did not start (ports {string.Join(", ", ports)}): {e.Message}\n--- Azurite output ---\n{log}", e);
            }
        }
    }

    /// <summary>
    /// Stops this Azurite (by its process id) if still running and starts it again on the same ports and data folder,
    /// so the connection string stays valid. Only for a server started with a location: in memory, nothing would survive.
    /// </summary>
    public async Task<AzuriteServer> RestartAsync(CancellationToken cancellationToken = default)
    {
        if (location is null)
            throw new InvalidOperationException("An in-memory Azurite loses its data when stopped; start it with a location.");
        await DisposeAsync();
        var server = Launch(FindAzuriteScript(), ports[0], ports[1], ports[2], location);
        try
        {
            await server.WaitUntilReadyAsync(ports, cancellationToken);
            return server;
        }
        catch (Exception e)
        {
            await server.DisposeAsync();
            throw new InvalidOperationException($"Azurite did not restart: {e.Message}\n--- Azurite output ---\n{server.Output}", e);
        }
    }

    /// <summary>
    /// Stops Azurite as an operator would, by SIGTERM to its process id: it saves what it holds (with a location) and
    /// closes its three services, which it reports; then its process is ended (our stdin hook keeps node alive).
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync(cancellationToken);
        }
        await closed.Task.WaitAsync(cancellationToken);
        await DisposeAsync();
    }

    static string FindAzuriteScript()
    {
        var root = RepositoryRoot.Folder;
        var script = Path.Combine(root, "tests", "node", "node_modules", "azurite", "dist", "src", "azurite.js");
        if (!File.Exists(script))
            throw new InvalidOperationException(
                $"Azurite is not installed ({script} is missing). Run `npm ci --prefix tests/node` in {root}.");
        return script;
    }

    static AzuriteServer Launch(string script, int blobPort, int queuePort, int tablePort, string? location)
    {
        var psi = new ProcessStartInfo("node")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(), // Azurite may write debug/workspace files to its cwd
        };
        foreach (var arg in new[]
        {
            "--import", ExitWithParent, script,
            "--skipApiVersionCheck", "--disableTelemetry", "--silent",
            "--blobHost", "127.0.0.1", "--blobPort", blobPort.ToString(),
            "--queueHost", "127.0.0.1", "--queuePort", queuePort.ToString(),
            "--tableHost", "127.0.0.1", "--tablePort", tablePort.ToString(),
        })
        {
            psi.ArgumentList.Add(arg);
        }
        if (location is null)
        {
            psi.ArgumentList.Add("--inMemoryPersistence");
        }
        else
        {
            psi.ArgumentList.Add("--location");
            psi.ArgumentList.Add(location);
        }

        var output = new StringBuilder();
        var process = new Process { StartInfo = psi };
        DataReceivedEventHandler append = (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.OutputDataReceived += append;
        process.ErrorDataReceived += append;
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("Cannot run `node` (Node.js 20+ must be on PATH) to start Azurite.", e);
        }
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new AzuriteServer(process, output, blobPort, queuePort, tablePort, location);
    }

    async Task WaitUntilReadyAsync(int[] ports, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stop.CancelAfter(StartTimeout);
        try
        {
            // Whichever comes first: all services answer, Azurite exits (e.g. EADDRINUSE), or the deadline.
            var ready = ProbeAsync(ports, stop.Token);
            var exited = process.WaitForExitAsync(stop.Token);
            await Task.WhenAny(ready, exited);
            if (process.HasExited) // also catches a port that answered but belongs to someone else
                throw new InvalidOperationException($"Azurite exited with code {process.ExitCode}.");
            await ready;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"Azurite was not ready within {StartTimeout.TotalSeconds:0} s.");
        }
        finally
        {
            stop.Cancel(); // ends whichever wait is still pending
        }
    }

    async Task ProbeAsync(int[] ports, CancellationToken token)
    {
        foreach (var port in ports)
            await WaitForPortAsync(port, token);

        // Listening is not the same as serving: make one real authenticated request, then leave no trace.
        var tables = new TableServiceClient(ConnectionString);
        var probe = "probe" + Guid.NewGuid().ToString("N");
        await tables.CreateTableAsync(probe, token);
        await tables.DeleteTableAsync(probe, token);
    }

    static async Task WaitForPortAsync(int port, CancellationToken token)
    {
        var delay = TimeSpan.FromMilliseconds(20);
        while (true)
        {
            using var client = new TcpClient();
            try
            {
                await client.ConnectAsync(IPAddress.Loopback, port, token);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(delay, token); // poll interval while node boots, not a synchronisation sleep
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 250));
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 1)
            return;
        try
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // exited between the check and the kill
        }
        await process.WaitForExitAsync();
        process.Dispose();
    }
}

/// <summary>
/// One Azurite for the whole test assembly (registered above as an xunit v3 assembly fixture):
/// tests take it as a constructor parameter and isolate themselves by table/container name.
/// </summary>
public sealed class AzuriteFixture : IAsyncLifetime
{
    AzuriteServer? server;

    public AzuriteServer Server => server ?? throw new InvalidOperationException("Azurite has not been started.");
    public string ConnectionString => Server.ConnectionString;

    /// <summary>
    /// A durable registry of its own on this Azurite: its tables and containers under <paramref name="prefix"/>, which is
    /// also its ServiceId and ClusterId, so a host started again with these settings is the same service.
    /// </summary>
    public Dictionary<string, string?> DurableSettings(string prefix) => new()
    {
        ["Registry:StorageConnectionString"] = ConnectionString,
        ["Registry:StoragePrefix"] = prefix,
        ["Registry:ServiceId"] = prefix,
        ["Registry:ClusterId"] = prefix,
    };
    public Uri BlobEndpoint => Server.BlobEndpoint;

    public async ValueTask InitializeAsync() => server = await AzuriteServer.StartAsync();

    public async ValueTask DisposeAsync()
    {
        if (server is not null)
            await server.DisposeAsync();
    }
}
