using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Registry.Host;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Host;

/// <summary>
/// Review, stop 32: a SIGTERM 5-11 s into a durable start, while Orleans' silo or a hosted service was still starting,
/// ended the process with an unhandled cancellation ("Unhandled exception … TaskCanceledException", SIGABRT, exit code
/// 134): a crash to a service manager, for the stop it had asked for. The host's run now says one line and exits 0.
/// The signal is what the console lifetime turns it into, <see cref="IHostApplicationLifetime.StopApplication"/>, asked
/// while a hosted service of the registry is held in its start.
/// </summary>
public sealed class StopWhileStartingTests
{
    [Fact(Timeout = 120_000)]
    public async Task A_stop_asked_while_the_registry_is_still_starting_exits_0_with_one_line()
    {
        var ct = TestContext.Current.CancellationToken;
        var folder = Directory.CreateTempSubdirectory("registry-stop-starting-").FullName;
        var (app, held) = BuildHeld(folder);
        var error = new StringWriter();
        try
        {
            var run = RegistryHost.RunToExitAsync(app, error);
            await held.Starting.Task.WaitAsync(ct);
            app.Lifetime.StopApplication();

            Assert.Equal(0, await run.WaitAsync(ct));
            Assert.Equal(RegistryHost.StoppedWhileStarting, error.ToString().Trim());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// Re-check, stop 32: a SIGTERM in the first second or two of a start, before the host took signals, ended the
    /// process by the signal (exit 143, nothing said). <see cref="EarlyStop"/> holds it from the first line of Main and
    /// the run stops the host before anything starts: here the stop is asked before the run begins.
    /// </summary>
    [Fact(Timeout = 120_000)]
    public async Task A_stop_asked_before_the_host_runs_stops_it_before_anything_starts_and_exits_0_with_one_line()
    {
        var ct = TestContext.Current.CancellationToken;
        var folder = Directory.CreateTempSubdirectory("registry-stop-early-").FullName;
        var (app, held) = BuildHeld(folder);
        var error = new StringWriter();
        using var signal = new CancellationTokenSource();
        try
        {
            await signal.CancelAsync(); // the signal came while the host was being built

            Assert.Equal(0, await RegistryHost.RunToExitAsync(app, error, signal.Token).WaitAsync(ct));
            Assert.Equal(RegistryHost.StoppedWhileStarting, error.ToString().Trim());
            Assert.False(held.Starting.Task.IsCompleted, "a hosted service started after the stop was asked");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// Found 2026-12-04: a registry whose load harness died by kill -9 in the middle of an import (its Azurite with it)
    /// stopped on SIGTERM but never exited: the host's disposal waited for a stateless worker's request, which waited for
    /// a device write that nothing would ever answer. Here a service's disposal that never ends stands for that request.
    /// </summary>
    [Fact(Timeout = 120_000)]
    public async Task A_stop_whose_disposal_never_ends_exits_0_after_the_shutdown_timeout_with_one_line()
    {
        var ct = TestContext.Current.CancellationToken;
        var folder = Directory.CreateTempSubdirectory("registry-stop-dispose-").FullName;
        var ports = FreePorts.Take(3);
        var stuck = new StuckDisposal();
        var app = RegistryHost.Build(
        [
            $"--Registry:DataFolder={folder}", $"--Registry:HttpsPort={ports[0]}", $"--Registry:SiloPort={ports[1]}",
            $"--Registry:GatewayPort={ports[2]}", "--Registry:MqttPort=0", "--Logging:LogLevel:Default=Warning",
            "--Registry:ShutdownTimeoutSeconds=1",
        ], builder => builder.Services.AddHostedService(_ => stuck));
        var error = new StringWriter();
        try
        {
            var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using var onStarted = app.Lifetime.ApplicationStarted.Register(() => started.TrySetResult());
            var run = RegistryHost.RunToExitAsync(app, error);
            await started.Task.WaitAsync(ct);
            app.Lifetime.StopApplication();

            Assert.Equal(0, await run.WaitAsync(ct));
            Assert.True(stuck.Started.Task.IsCompleted);
            Assert.True(stuck.Disposing.Task.IsCompleted, "the host never began to dispose");
            Assert.Equal(RegistryHost.DisposalAbandoned(TimeSpan.FromSeconds(1)), error.ToString().Trim());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>A hosted service whose disposal never ends.</summary>
    private sealed class StuckDisposal : IHostedService, IAsyncDisposable
    {
        public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Disposing { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task StartAsync(CancellationToken cancellationToken)
        {
            Started.TrySetResult();
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public async ValueTask DisposeAsync()
        {
            Disposing.TrySetResult();
            await Task.Delay(Timeout.Infinite);
        }
    }

    /// <summary>The registry as Program.cs builds it, on free ports, with <see cref="HeldStart"/> among its hosted services.</summary>
    private static (WebApplication App, HeldStart Held) BuildHeld(string folder)
    {
        var ports = FreePorts.Take(3);
        var held = new HeldStart();
        var app = RegistryHost.Build(
        [
            $"--Registry:DataFolder={folder}", $"--Registry:HttpsPort={ports[0]}", $"--Registry:SiloPort={ports[1]}",
            $"--Registry:GatewayPort={ports[2]}", "--Registry:MqttPort=0", "--Logging:LogLevel:Default=Warning",
        ], builder => builder.Services.AddHostedService(_ => held));
        return (app, held);
    }

    /// <summary>A start that lasts until it is cancelled, as a slow storage read or silo join does.</summary>
    private sealed class HeldStart : IHostedService
    {
        public TaskCompletionSource Starting { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async Task StartAsync(CancellationToken cancellationToken)
        {
            Starting.TrySetResult();
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
