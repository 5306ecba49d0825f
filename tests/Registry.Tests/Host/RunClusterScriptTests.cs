using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace Registry.Tests.Host;

/// <summary>
/// docker/run-cluster.sh as an operator runs it: a start beside another cluster, and status and stop from another
/// directory. Every run is bounded, and what a run started is stopped by the script's own stop.
/// </summary>
public sealed partial class RunClusterScriptTests
{
    /// <summary>Ports of the topology at offset 0 (run-cluster.sh's services and Azurite).</summary>
    private static readonly int[] TopologyPorts =
    [
        10000, 10001, 10002, 11111, 11112, 11113, 30000, 30001, 30002, 8080, 8081, 8082, 8443, 8883, 9443, 9883,
        9464, 9465, 9466, 9467, 9468,
    ];

    [Fact(Timeout = 300_000)]
    public async Task A_start_whose_gateway_ports_another_cluster_holds_refuses_naming_them_and_a_free_offset_and_starts_nothing()
    {
        var ct = TestContext.Current.CancellationToken;
        var dir = Path.Combine(Directory.CreateTempSubdirectory("registry-run-cluster-").FullName, "cluster");
        var offset = FreeOffset();
        // What a copy 1000 below holds: its gateway2's HTTPS and MQTT ports are this copy's gateway1's.
        using var https = Listen(8443 + offset);
        using var mqtt = Listen(8883 + offset);
        // And gateway1's management port (Observability:Port, /metrics): checked like the others.
        using var metrics = Listen(9467 + offset);
        var environment = new Dictionary<string, string>
        {
            ["REGISTRY_CLUSTER_DIR"] = dir,
            ["REGISTRY_PORT_OFFSET"] = offset.ToString(CultureInfo.InvariantCulture),
            ["REGISTRY_START_TIMEOUT"] = "60",
        };
        try
        {
            var start = await RunAsync(Script(RepositoryRoot()), RepositoryRoot(), environment, "start", ct);

            Assert.Equal(1, start.ExitCode);
            // Nothing started, nothing created: no PID file, no data folder, no Azurite.
            Assert.False(Directory.Exists(dir), $"{dir} was created:\n{start.Output}");
            Assert.True(CanBind(10002 + offset), $"something listens on Azurite's table port:\n{start.Output}");
            Assert.Contains($"gateway1: port {8443 + offset}", start.Error, StringComparison.Ordinal);
            Assert.Contains($"gateway1: port {8883 + offset}", start.Error, StringComparison.Ordinal);
            Assert.Contains($"gateway1: port {9467 + offset}", start.Error, StringComparison.Ordinal);
            var suggested = SuggestedOffset().Match(start.Error);
            Assert.True(suggested.Success, start.Error);
            var other = int.Parse(suggested.Groups[1].Value, CultureInfo.InvariantCulture);
            Assert.NotEqual(offset, other);
            Assert.All(TopologyPorts, p => Assert.True(CanBind(p + other), $"port {p + other} of the suggested offset {other} is taken"));
        }
        finally
        {
            // What a start that did not refuse in time left running.
            await RunAsync(Script(RepositoryRoot()), RepositoryRoot(), environment, "stop", CancellationToken.None);
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task Status_and_stop_from_another_directory_find_the_cluster_beside_the_script_and_status_fails_when_not_all_run()
    {
        var ct = TestContext.Current.CancellationToken;
        // A copy of the script in a tree of its own: its default cluster folder is <root>/registry-cluster.
        var root = Directory.CreateTempSubdirectory("registry-run-cluster-root-").FullName;
        Directory.CreateDirectory(Path.Combine(root, "docker"));
        File.Copy(Script(RepositoryRoot()), Script(root));
        var cluster = Directory.CreateDirectory(Path.Combine(root, "registry-cluster")).FullName;
        var elsewhere = Directory.CreateTempSubdirectory("registry-run-cluster-cwd-").FullName;
        // A process standing in for gateway1: the script knows its processes by their PID files and their program.
        using var gateway1 = StandIn("Registry.Host.dll");
        await File.WriteAllTextAsync(Path.Combine(cluster, "gateway1.pid"), $"{gateway1.Id}\n", ct);
        Dictionary<string, string> environment = [];

        var status = await RunAsync(Script(root), elsewhere, environment, "status", ct);
        Assert.Contains($"gateway1 running (pid {gateway1.Id})", status.Output, StringComparison.Ordinal);
        Assert.Contains("silo1 stopped", status.Output, StringComparison.Ordinal);
        Assert.Equal(1, status.ExitCode);

        var stop = await RunAsync(Script(root), elsewhere, environment, "stop", ct);
        Assert.Equal(0, stop.ExitCode);
        Assert.Contains($"gateway1 stopped (pid {gateway1.Id})", stop.Output, StringComparison.Ordinal);
        await gateway1.WaitForExitAsync(ct);

        var after = await RunAsync(Script(root), elsewhere, environment, "status", ct);
        Assert.Equal(3, after.ExitCode);
        Assert.Contains("nothing of the cluster runs", after.Error, StringComparison.Ordinal);
        var again = await RunAsync(Script(root), elsewhere, environment, "stop", ct);
        Assert.Contains($"nothing of the cluster in {cluster} was running", again.Output, StringComparison.Ordinal);
    }

    [Fact(Timeout = 120_000)]
    public async Task A_pid_file_whose_number_now_belongs_to_another_program_is_neither_counted_nor_killed()
    {
        var ct = TestContext.Current.CancellationToken;
        var cluster = Directory.CreateTempSubdirectory("registry-run-cluster-reused-").FullName;
        // silo1 died and its PID was given to another program (here: not ours at all).
        using var other = StandIn("someone-else");
        await File.WriteAllTextAsync(Path.Combine(cluster, "silo1.pid"), $"{other.Id}\n", ct);
        var environment = new Dictionary<string, string> { ["REGISTRY_CLUSTER_DIR"] = cluster };

        var status = await RunAsync(Script(RepositoryRoot()), RepositoryRoot(), environment, "status", ct);
        var stop = await RunAsync(Script(RepositoryRoot()), RepositoryRoot(), environment, "stop", ct);

        Assert.Contains("silo1 stopped", status.Output, StringComparison.Ordinal);
        Assert.Equal(3, status.ExitCode);
        Assert.Contains($"nothing of the cluster in {cluster} was running", stop.Output, StringComparison.Ordinal);
        Assert.False(other.HasExited, "stop killed a process that is not the cluster's");
    }

    [Fact(Timeout = 120_000)]
    public async Task A_start_refused_beside_a_partly_running_cluster_suggests_no_offset_but_stopping_it()
    {
        var ct = TestContext.Current.CancellationToken;
        var cluster = Directory.CreateTempSubdirectory("registry-run-cluster-partly-").FullName;
        var offset = FreeOffset();
        // Its Azurite runs; gateway1's HTTPS port is held by another process.
        using var azurite = StandIn("azurite.js");
        using var https = Listen(8443 + offset);
        var environment = new Dictionary<string, string>
        {
            ["REGISTRY_CLUSTER_DIR"] = cluster,
            ["REGISTRY_PORT_OFFSET"] = offset.ToString(CultureInfo.InvariantCulture),
        };
        await File.WriteAllTextAsync(Path.Combine(cluster, "azurite.pid"), $"{azurite.Id}\n", ct);

        var start = await RunAsync(Script(RepositoryRoot()), RepositoryRoot(), environment, "start", ct);

        Assert.Equal(1, start.ExitCode);
        Assert.Contains($"gateway1: port {8443 + offset}", start.Error, StringComparison.Ordinal);
        Assert.Contains("Part of this cluster runs (azurite)", start.Error, StringComparison.Ordinal);
        Assert.DoesNotMatch(SuggestedOffset(), start.Error);
        Assert.False(File.Exists(Path.Combine(cluster, "silo1.pid")), start.Output);
    }

    [Theory]
    [InlineData("0300", "300")]
    [InlineData("08", "8")]
    public async Task An_offset_with_leading_zeros_is_read_as_decimal(string given, string meant)
    {
        var cluster = Directory.CreateTempSubdirectory("registry-run-cluster-offset-").FullName;
        var environment = new Dictionary<string, string> { ["REGISTRY_CLUSTER_DIR"] = cluster, ["REGISTRY_PORT_OFFSET"] = given };

        var status = await RunAsync(Script(RepositoryRoot()), RepositoryRoot(), environment, "status", TestContext.Current.CancellationToken);

        Assert.Contains($"cluster in {cluster} (REGISTRY_PORT_OFFSET={meant})", status.Output, StringComparison.Ordinal);
        Assert.True(status.ExitCode == 3, status.Output + status.Error);
    }

    [Fact]
    public void Compose_gives_every_registry_process_a_management_port_published_on_loopback_as_run_cluster_does()
    {
        var compose = File.ReadAllText(Path.Combine(RepositoryRoot(), "docker", "compose.yaml"));
        var script = File.ReadAllText(Script(RepositoryRoot()));
        // One environment for every registry service (the anchor each merges), the port set in it.
        Assert.Equal(5, Regex.Matches(compose, @"<<: \*environment").Count);
        Assert.Contains("Registry__Observability__Port: \"9464\"", compose, StringComparison.Ordinal);
        string[] services = ["silo1", "silo2", "silo3", "gateway1", "gateway2"];
        for (var i = 0; i < services.Length; i++)
        {
            var port = 9464 + i;
            Assert.Contains($"- \"127.0.0.1:{port}:9464\"", ServiceBlock(compose, services[i]), StringComparison.Ordinal);
            Assert.Matches($@"\n  ""{services[i]} [^\n]*Registry__Observability__Port=\$\(port {port}\)", script);
        }
    }

    /// <summary>The lines of one service of compose.yaml, up to the next service (or the end of services).</summary>
    private static string ServiceBlock(string compose, string service)
    {
        var start = compose.IndexOf($"\n  {service}:\n", StringComparison.Ordinal);
        Assert.True(start >= 0, service);
        var end = Regex.Match(compose[(start + 1)..], @"\n  \w+:\n|\n\w").Index;
        return compose.Substring(start, end + 1);
    }

    private sealed record Result(int ExitCode, string Output, string Error);

    /// <summary>Runs the script to its end (bounded by <paramref name="ct"/> and 240 s), without the caller's REGISTRY_ variables.</summary>
    private static async Task<Result> RunAsync(string script, string workingDirectory, Dictionary<string, string> environment, string command, CancellationToken ct)
    {
        var psi = new ProcessStartInfo("bash") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(script);
        psi.ArgumentList.Add(command);
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("REGISTRY_", StringComparison.Ordinal) || k.StartsWith("Registry__", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            psi.Environment.Remove(key);
        }
        foreach (var (key, value) in environment)
        {
            psi.Environment[key] = value;
        }
        using var process = Process.Start(psi)!;
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(ct);
        bound.CancelAfter(TimeSpan.FromSeconds(240));
        var output = process.StandardOutput.ReadToEndAsync(bound.Token);
        var error = process.StandardError.ReadToEndAsync(bound.Token);
        try
        {
            await process.WaitForExitAsync(bound.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        return new Result(process.ExitCode, await output, await error);
    }

    /// <summary>A multiple of 100 whose whole topology is free now, away from the offsets other runs use by default.</summary>
    private static int FreeOffset()
    {
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var offset = Random.Shared.Next(30, 355) * 100;
            if (TopologyPorts.All(p => CanBind(p + offset)))
            {
                return offset;
            }
        }
        throw new InvalidOperationException("no free offset");
    }

    /// <summary>A process waiting on its input whose command line names <paramref name="program"/>, as the script checks; killed on dispose.</summary>
    private static StandInProcess StandIn(string program)
    {
        var psi = new ProcessStartInfo("bash") { RedirectStandardInput = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("read -r _");
        psi.ArgumentList.Add(program);
        return new StandInProcess(Process.Start(psi)!);
    }

    private sealed class StandInProcess(Process process) : IDisposable
    {
        public int Id => process.Id;

        public bool HasExited => process.HasExited;

        public Task WaitForExitAsync(CancellationToken ct) => process.WaitForExitAsync(ct);

        public void Dispose()
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
            process.Dispose();
        }
    }

    private static TcpListener Listen(int port)
    {
        var listener = new TcpListener(IPAddress.Loopback, port);
        listener.Start();
        return listener;
    }

    private static bool CanBind(int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static string Script(string root) => Path.Combine(root, "docker", "run-cluster.sh");

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Registry.Orleans.sln")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException($"Cannot find the repository root above {AppContext.BaseDirectory}.");
    }

    [GeneratedRegex(@"REGISTRY_PORT_OFFSET=(\d+) has every port free")]
    private static partial Regex SuggestedOffset();
}
