using System.Net;
using System.Net.Http.Json;
using Azure.Data.Tables;
using Registry.Host;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Host;

/// <summary>
/// A second copy of a running registry, started by mistake with an endpoint or the data folder of the first,
/// refuses to start with a message saying why, and the first keeps serving: real processes, as operators run them.
/// </summary>
public sealed class SecondStartTests(AzuriteFixture azurite)
{
    private const string DevicePath = $"devices/still-here?{ApiVersion}";

    [Fact(Timeout = 180_000)]
    public async Task A_second_host_on_the_same_data_folder_refuses_to_start_and_the_first_keeps_serving()
    {
        var ct = TestContext.Current.CancellationToken;
        var work = Directory.CreateTempSubdirectory("registry-proc-").FullName;
        var data = Path.Combine(work, "data");
        await using var first = RegistryProcess.Start(work, Arguments(data, FreePorts.Take(3)));
        await first.WaitUntilListeningAsync(ct);
        using var http = Client(first, data);
        Assert.Equal(HttpStatusCode.OK, (await http.PutAsJsonAsync(DevicePath, new { deviceId = "still-here" }, ct)).StatusCode);

        await using var second = RegistryProcess.Start(work, Arguments(data, FreePorts.Take(3)));
        var exitCode = await ExitCodeUnlessListening(second, ct);

        Assert.Equal(1, exitCode);
        Assert.Contains($"Another registry is running on the data folder {data}", second.Output, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(DevicePath, ct)).StatusCode);
    }

    [Fact(Timeout = 180_000)]
    public async Task A_second_embedded_host_on_the_same_silo_ports_refuses_to_start_and_the_first_keeps_serving()
    {
        var ct = TestContext.Current.CancellationToken;
        var work = Directory.CreateTempSubdirectory("registry-proc-").FullName;
        var ports = FreePorts.Take(4);
        await using var first = RegistryProcess.Start(work, Arguments(Path.Combine(work, "d1"), ports[..3]));
        await first.WaitUntilListeningAsync(ct);
        using var http = Client(first, Path.Combine(work, "d1"));
        Assert.Equal(HttpStatusCode.OK, (await http.PutAsJsonAsync(DevicePath, new { deviceId = "still-here" }, ct)).StatusCode);

        // Another data folder and another HTTPS port: only the silo and gateway ports collide.
        await using var second = RegistryProcess.Start(work, Arguments(Path.Combine(work, "d2"), [ports[3], ports[1], ports[2]]));
        var exitCode = await ExitCodeUnlessListening(second, ct);

        Assert.Equal(1, exitCode);
        Assert.Contains("Another process is using Registry:SiloPort", second.Output, StringComparison.Ordinal);
        Assert.Contains("Registry:GatewayPort", second.Output, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(DevicePath, ct)).StatusCode);
    }

    [Fact(Timeout = 180_000)]
    public async Task An_identical_second_durable_host_refuses_to_start_and_never_touches_the_cluster_membership()
    {
        var ct = TestContext.Current.CancellationToken;
        var work = Directory.CreateTempSubdirectory("registry-proc-").FullName;
        var service = "dup" + Guid.NewGuid().ToString("N")[..8];
        var ports = FreePorts.Take(3);
        string[] Durable(string folder) =>
        [
            .. Arguments(folder, ports),
            $"--Registry:StorageConnectionString={azurite.ConnectionString}",
            $"--Registry:StoragePrefix={service}",
            $"--Registry:ClusterId={service}",
            $"--Registry:ServiceId={service}",
        ];
        await using var first = RegistryProcess.Start(work, Durable(Path.Combine(work, "d1")));
        await first.WaitUntilListeningAsync(ct);
        using var http = Client(first, Path.Combine(work, "d1"));
        Assert.Equal(HttpStatusCode.OK, (await http.PutAsJsonAsync(DevicePath, new { deviceId = "still-here" }, ct)).StatusCode);
        var membership = new TableClient(azurite.ConnectionString, service + "Cluster");
        var before = await Members(membership, ct);

        // The same command line in another folder (the same folder is refused by its lock before any port is tried).
        await using var second = RegistryProcess.Start(work, Durable(Path.Combine(work, "d2")));
        var exitCode = await ExitCodeUnlessListening(second, ct);

        Assert.Equal(1, exitCode);
        Assert.Contains("Another process is using Registry:HttpsPort", second.Output, StringComparison.Ordinal);
        Assert.Contains("Registry:SiloPort", second.Output, StringComparison.Ordinal);
        // The second never started a silo: no row of its own, and nobody was declared dead.
        var after = await Members(membership, ct);
        Assert.Equal(before.Keys.Order(StringComparer.Ordinal), after.Keys.Order(StringComparer.Ordinal));
        Assert.DoesNotContain("Dead", after.Values);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(DevicePath, ct)).StatusCode);
        Assert.DoesNotContain("I have been told I am dead", first.Output, StringComparison.Ordinal);
    }

    [Theory(Timeout = 120_000)]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_host_refused_because_its_port_is_taken_leaves_nothing_in_its_data_folder(bool folderExists)
    {
        var ct = TestContext.Current.CancellationToken;
        var work = Directory.CreateTempSubdirectory("registry-proc-").FullName;
        var data = Path.Combine(work, "data");
        if (folderExists)
        {
            Directory.CreateDirectory(data);
        }
        var ports = FreePorts.Take(3);
        // Another process on the HTTPS port: the host refuses before it claims its data folder.
        using var other = new System.Net.Sockets.TcpListener(IPAddress.Loopback, ports[0]);
        other.Start();

        await using var host = RegistryProcess.Start(work, Arguments(data, ports));
        var exitCode = await ExitCodeUnlessListening(host, ct);

        Assert.Equal(1, exitCode);
        Assert.Contains("Another process is using Registry:HttpsPort", host.Output, StringComparison.Ordinal);
        if (folderExists)
        {
            Assert.Empty(Directory.EnumerateFileSystemEntries(data));
        }
        else
        {
            Assert.False(Directory.Exists(data), $"{data} was created");
        }
    }

    [Fact(Timeout = 180_000)]
    public async Task An_identical_second_host_is_refused_for_its_data_folder_before_its_ports()
    {
        var ct = TestContext.Current.CancellationToken;
        var work = Directory.CreateTempSubdirectory("registry-proc-").FullName;
        var data = Path.Combine(work, "data");
        var ports = FreePorts.Take(3);
        await using var first = RegistryProcess.Start(work, Arguments(data, ports));
        await first.WaitUntilListeningAsync(ct);

        await using var second = RegistryProcess.Start(work, Arguments(data, ports));
        var exitCode = await ExitCodeUnlessListening(second, ct);

        Assert.Equal(1, exitCode);
        Assert.Contains($"Another registry is running on the data folder {data}", second.Output, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(data, ExclusiveStart.LockFileName)));
    }

    /// <summary>A host on its own data folder and ports, authentication off: these tests are about the process.</summary>
    internal static string[] Arguments(string dataFolder, int[] ports) =>
    [
        $"--Registry:DataFolder={dataFolder}",
        $"--Registry:HttpsPort={ports[0]}",
        $"--Registry:SiloPort={ports[1]}",
        $"--Registry:GatewayPort={ports[2]}",
        "--Registry:MqttPort=0",
        "--Registry:IndexPartitions=4",
        // The subject here is the process, not SAS: anonymous requests keep the client simple.
        "--Registry:Authentication:Enabled=false",
    ];

    /// <summary>The exit code of a host that stops by itself; fails (rather than hangs) if it starts serving instead.</summary>
    internal static async Task<int> ExitCodeUnlessListening(RegistryProcess process, CancellationToken ct)
    {
        var exit = process.WaitForExitAsync(ct);
        var listening = process.WaitUntilListeningAsync(ct);
        if (await Task.WhenAny(exit, listening) == listening && listening.IsCompletedSuccessfully)
        {
            Assert.Fail($"the second host started serving:\n{process.Output}");
        }
        return await exit;
    }

    /// <summary>
    /// A refused start as an operator sees it: the process exits with code 1 after printing one line, which contains
    /// <paramref name="named"/>, and <paramref name="dataFolder"/> was never created.
    /// </summary>
    internal static async Task AssertRefusedInOneLineAsync(RegistryProcess process, string named, string dataFolder, CancellationToken ct)
    {
        Assert.Equal(1, await ExitCodeUnlessListening(process, ct));
        var line = Assert.Single(process.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.Contains(named, line, StringComparison.Ordinal);
        Assert.False(Directory.Exists(dataFolder), "the refused start created the data folder");
    }

    /// <summary>Silo rows of the membership table (the version row aside), by row key, with their status.</summary>
    private static async Task<Dictionary<string, string>> Members(TableClient table, CancellationToken ct)
    {
        var rows = new Dictionary<string, string>(StringComparer.Ordinal);
        await foreach (var row in table.QueryAsync<TableEntity>(cancellationToken: ct))
        {
            if (row.GetString("Status") is { } status)
            {
                rows[row.RowKey] = status;
            }
        }
        Assert.NotEmpty(rows);
        return rows;
    }

    internal static HttpClient Client(RegistryProcess process, string dataFolder)
    {
        var port = int.Parse(System.Text.RegularExpressions.Regex.Match(process.Output, @"https://127\.0\.0\.1:(\d+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        var ca = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(
            File.ReadAllText(Path.Combine(dataFolder, "certs", DevelopmentCertificates.CaFileName)));
        var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
        {
            using var chain = new System.Security.Cryptography.X509Certificates.X509Chain();
            chain.ChainPolicy.TrustMode = System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(ca);
            chain.ChainPolicy.RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck;
            return certificate is not null && chain.Build(new System.Security.Cryptography.X509Certificates.X509Certificate2(certificate));
        };
        return new HttpClient(handler) { BaseAddress = new Uri($"https://127.0.0.1:{port}/") };
    }
}
