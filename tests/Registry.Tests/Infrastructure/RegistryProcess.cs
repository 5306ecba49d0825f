using System.Diagnostics;
using System.Text;

namespace Registry.Tests.Infrastructure;

/// <summary>
/// The built Registry.Host started as its own process, as an operator runs it: for what only a real process shows
/// (its working directory, its exit code, two copies competing for ports and folders). Output is captured.
/// </summary>
public sealed class RegistryProcess : IAsyncDisposable
{
    /// <summary>What the host logs once it serves (RegistryHost's LogListening).</summary>
    public const string ListeningLine = "Registry listening on";

    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<(string Text, TaskCompletionSource Seen)> _awaited = [];

    /// <summary>
    /// Processes started and not yet disposed. A test that times out is abandoned, not unwound, so its <c>await using</c>
    /// never ends what it started: these are killed when the test process exits, instead of outliving the run (a timed-out
    /// failure test left two silos and a gateway running on the machine).
    /// </summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<RegistryProcess, byte> Live = new();

    static RegistryProcess() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        foreach (var process in Live.Keys)
        {
            process.Kill();
        }
    };

    private RegistryProcess(Process process) => _process = process;

    /// <summary>Everything the process printed so far, stdout and stderr interleaved.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public int Id => _process.Id;

    /// <summary>Starts <c>dotnet Registry.Host.dll args</c> in <paramref name="workingDirectory"/>.</summary>
    public static RegistryProcess Start(string workingDirectory, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            // A pipe the test holds (not the test run's own input): CloseInput ends it.
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(HostDll());
        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }
        // Only the arguments configure it: nothing inherited from the test run's environment.
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("Registry__", StringComparison.OrdinalIgnoreCase) || k is "DOTNET_ENVIRONMENT" or "ASPNETCORE_ENVIRONMENT").ToList())
        {
            psi.Environment.Remove(key);
        }

        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var result = new RegistryProcess(process);
        DataReceivedEventHandler append = (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }
            lock (result._output)
            {
                result._output.AppendLine(e.Data);
                foreach (var (text, seen) in result._awaited.Where(a => e.Data.Contains(a.Text, StringComparison.Ordinal)))
                {
                    seen.TrySetResult();
                }
            }
            if (e.Data.Contains(ListeningLine, StringComparison.Ordinal))
            {
                result._listening.TrySetResult();
            }
        };
        process.OutputDataReceived += append;
        process.ErrorDataReceived += append;
        process.Exited += (_, _) => result._listening.TrySetException(new InvalidOperationException("the registry process exited before it listened"));
        process.Start();
        Live.TryAdd(result, 0);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return result;
    }

    /// <summary>Returns once the host logged that it listens; throws with its output if it exits first.</summary>
    public async Task WaitUntilListeningAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _listening.Task.WaitAsync(cancellationToken);
        }
        catch (InvalidOperationException e)
        {
            throw new InvalidOperationException($"{e.Message}:\n{Output}", e);
        }
    }

    /// <summary>Returns once the process printed a line containing <paramref name="text"/> (also before this call).</summary>
    public Task WaitForOutputAsync(string text, CancellationToken cancellationToken)
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_output)
        {
            if (_output.ToString().Contains(text, StringComparison.Ordinal))
            {
                return Task.CompletedTask;
            }
            _awaited.Add((text, seen));
        }
        return seen.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Closes the process's standard input, as the death of a parent holding the pipe does.</summary>
    public void CloseInput() => _process.StandardInput.Close();

    /// <summary>Waits for the process to end by itself and returns its exit code (output fully read).</summary>
    public async Task<int> WaitForExitAsync(CancellationToken cancellationToken)
    {
        await _process.WaitForExitAsync(cancellationToken);
        return _process.ExitCode;
    }

    /// <summary>Asks the host to stop as a service manager does (SIGTERM) and waits for it to end.</summary>
    public async Task<int> TerminateAsync(CancellationToken cancellationToken)
    {
        if (!_process.HasExited)
        {
            using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            await kill.WaitForExitAsync(cancellationToken);
        }
        return await WaitForExitAsync(cancellationToken);
    }

    /// <summary>Where the solution build put the host: src/Registry.Host/bin/&lt;same configuration and framework as the tests&gt;.</summary>
    private static string HostDll()
    {
        var testBin = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var framework = testBin.Name;
        var configuration = testBin.Parent!.Name;
        var dll = Path.Combine(RepositoryRoot.Folder, "src", "Registry.Host", "bin", configuration, framework, "Registry.Host.dll");
        return File.Exists(dll) ? dll : throw new InvalidOperationException($"{dll} is missing: build the solution first.");
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        await _process.WaitForExitAsync();
        Live.TryRemove(this, out _);
        _process.Dispose();
    }

    private void Kill()
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
            // exited between the check and the kill, or disposed meanwhile
        }
    }
}
