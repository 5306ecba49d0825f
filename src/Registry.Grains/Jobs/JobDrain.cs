using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Registry.Abstractions;

namespace Registry.Grains.Jobs;

/// <summary>
/// Holds a stopping silo in the cluster until the job loops and chunks running on it have ended (<see cref="JobStops.Idle"/>),
/// at most <see cref="JobOptions.StopDrainWait"/>. They stop at the stop's first signal, before their next line, but the
/// lines in flight then still write their devices and index entries. Orleans marks a stopping silo as leaving and
/// deactivates its grains in one stage: a line ending after that found its index partition gone and no silo to place it
/// on, logged as Orleans errors with stacks, and its entry was left behind (hostile review, 2026-12-06: up to 95 such
/// lines in a SIGTERM during an import). Stopped first, this stage lets those lines end on a silo still active.
/// </summary>
public sealed partial class JobDrain(
    JobStops stops,
    IOptions<JobOptions> options,
    ILocalSiloDetails silo,
    [FromKeyedServices(RegistryClock.Key)] TimeProvider clock,
    ILogger<JobDrain> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    /// <summary>Stopped before <see cref="ServiceLifecycleStage.Active"/> and the stages after it (membership, deactivation).</summary>
    public const int Stage = ServiceLifecycleStage.Active + 1;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(JobDrain), Stage, _ => Task.CompletedTask, Stop);

    private async Task Stop(CancellationToken cancellationToken)
    {
        var idle = stops.Idle;
        if (idle.IsCompleted)
        {
            return;
        }
        var wait = options.Value.StopDrainWait;
        LogWaiting(logger, silo.SiloAddress, stops.Running, wait.TotalSeconds);
        try
        {
            await idle.WaitAsync(wait, clock, cancellationToken);
            LogDrained(logger, silo.SiloAddress);
        }
        catch (TimeoutException)
        {
            LogNotDrained(logger, silo.SiloAddress, stops.Running, wait.TotalSeconds);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The host's shutdown bound is up: the silo stops now, as without this stage.
            LogNotDrained(logger, silo.SiloAddress, stops.Running, wait.TotalSeconds);
        }
    }

    [LoggerMessage(EventId = 2316, Level = LogLevel.Information, Message = "Silo {Silo} is stopping: it waits for its {Running} job loops and chunks in flight to end (at most {Seconds} s) before it leaves the cluster")]
    private static partial void LogWaiting(ILogger logger, SiloAddress silo, int running, double seconds);

    [LoggerMessage(EventId = 2317, Level = LogLevel.Information, Message = "Silo {Silo} is stopping: its job loops and chunks have ended")]
    private static partial void LogDrained(ILogger logger, SiloAddress silo);

    [LoggerMessage(EventId = 2318, Level = LogLevel.Warning, Message = "Silo {Silo} is stopping with {Running} job loops and chunks still running after {Seconds} s: their lines in flight may log placement errors, and the jobs resume elsewhere")]
    private static partial void LogNotDrained(ILogger logger, SiloAddress silo, int running, double seconds);
}
