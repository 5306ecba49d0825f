using System.Diagnostics;

namespace Registry.Tests.Host;

/// <summary>
/// docker/run-cluster.sh as an operator runs it: status and stop from another directory. Every run is bounded.
/// </summary>
public sealed class RunClusterScriptTests
{
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
        // A process standing in for gateway1: the script knows its processes by their PID files only.
        using var gateway1 = Process.Start(new ProcessStartInfo("cat") { RedirectStandardInput = true, UseShellExecute = false })!;
        try
        {
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
        finally
        {
            if (!gateway1.HasExited)
            {
                gateway1.Kill();
            }
        }
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
}
