using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Azure.Data.Tables;

namespace Registry.Bench.Scale;

/// <summary>
/// The pinned Azurite of tests/node, in memory, on free loopback ports, owned by this run: the scale phase's durable
/// mode needs storage nobody else writes to, and a run must leave no server behind (it is stopped by its process id,
/// and exits by itself if this process dies, because it ends when its stdin closes).
/// </summary>
internal sealed class AzuriteProcess : IAsyncDisposable
{
    private const string AccountName = "devstoreaccount1";
    private const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    private const string ExitWithParent = "data:text/javascript,process.stdin.on('end',()=>process.exit(0)).resume();";

    private readonly Process _process;

    private AzuriteProcess(Process process, string connectionString)
    {
        _process = process;
        ProcessId = process.Id;
        ConnectionString = connectionString;
    }

    public string ConnectionString { get; }

    public int ProcessId { get; }

    public static async Task<AzuriteProcess> StartAsync(CancellationToken cancellationToken)
    {
        var script = Path.Combine(BenchHost.RepositoryRoot(), "tests", "node", "node_modules", "azurite", "dist", "src", "azurite.js");
        if (!File.Exists(script))
        {
            throw new InvalidOperationException($"Azurite is not installed ({script} is missing): run `npm ci --prefix tests/node`.");
        }
        var ports = BenchHost.FreePorts(3);
        var psi = new ProcessStartInfo("node")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        foreach (var arg in new[]
        {
            "--import", ExitWithParent, script, "--silent", "--inMemoryPersistence", "--skipApiVersionCheck", "--disableTelemetry",
            "--blobHost", "127.0.0.1", "--blobPort", $"{ports[0]}",
            "--queueHost", "127.0.0.1", "--queuePort", $"{ports[1]}",
            "--tableHost", "127.0.0.1", "--tablePort", $"{ports[2]}",
        })
        {
            psi.ArgumentList.Add(arg);
        }
        var process = Process.Start(psi) ?? throw new InvalidOperationException("Cannot start node.");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        string Endpoint(int port) => $"http://127.0.0.1:{port}/{AccountName}";
        var azurite = new AzuriteProcess(process,
            $"DefaultEndpointsProtocol=http;AccountName={AccountName};AccountKey={AccountKey};" +
            $"BlobEndpoint={Endpoint(ports[0])};QueueEndpoint={Endpoint(ports[1])};TableEndpoint={Endpoint(ports[2])};");
        try
        {
            using var ready = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            ready.CancelAfter(TimeSpan.FromSeconds(30));
            foreach (var port in ports)
            {
                await WaitForPortAsync(port, process, ready.Token);
            }
            var tables = new TableServiceClient(azurite.ConnectionString);
            var probe = "probe" + Guid.NewGuid().ToString("N");
            await tables.CreateTableAsync(probe, ready.Token);
            await tables.DeleteTableAsync(probe, ready.Token);
            return azurite;
        }
        catch
        {
            await azurite.DisposeAsync();
            throw;
        }
    }

    private static async Task WaitForPortAsync(int port, Process process, CancellationToken token)
    {
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"Azurite exited with code {process.ExitCode} before serving port {port}.");
            }
            using var client = new TcpClient();
            try
            {
                await client.ConnectAsync(IPAddress.Loopback, port, token);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(100, token); // polling node's start-up, not synchronisation
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // exited between the check and the kill
        }
        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}
