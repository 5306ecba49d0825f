using Azure;
using Microsoft.Extensions.Options;
using Registry.Abstractions;
using Registry.Grains.Index;

namespace Registry.Host;

public static partial class RegistryHost
{
    /// <summary>
    /// The one line an operator reads when the registry refuses to start (Program prints it and exits with code 1), or
    /// null for an exception that is a crash, not a refusal. Refusals raised inside the host's start (the silo's layout
    /// check, options validated on start) arrive wrapped.
    /// </summary>
    public static string? RefusalOf(Exception? e) => e switch
    {
        null => null,
        RegistryStartupException or IndexLayoutMismatchException or Registry.Client.RegistryServiceIdMismatchException => e.Message,
        // Storage that does not answer while the silo starts: the operator's to fix, not a crash to debug.
        RequestFailedException { Status: 0 or 408 or >= 500 } or StorageUnavailableException =>
            $"Storage did not answer while the registry started ({FirstLine(e.Message)}): check Registry:StorageConnectionString and that storage is up. Nothing was served.",
        // Storage that answers but refuses the account key or SAS: the operator's to fix as well.
        RequestFailedException { Status: 401 or 403 } =>
            $"Storage refused the registry's credentials while it started ({FirstLine(e.Message)}): check the account key or SAS in Registry:StorageConnectionString. Nothing was served.",
        // A gateway that found no silo within Registry:ClusterConnectTimeoutSeconds: the silos are not up, or not this cluster's.
        Orleans.Runtime.SiloUnavailableException =>
            $"No silo of the cluster answered ({FirstLine(e.Message)}): start the silos (Registry:Role=silo) with the same Registry:ClusterId, ServiceId, StoragePrefix and StorageConnectionString as this gateway. Nothing was served.",
        // A port free when the start checked it (ExclusiveStart) but taken before the silo or Kestrel bound it: another
        // process's, or an outgoing connection's in the ephemeral range. Kestrel wraps it in an IOException.
        Microsoft.AspNetCore.Connections.AddressInUseException or System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.AddressAlreadyInUse } =>
            $"A port the registry listens on was taken by another process while it started ({FirstLine(e.Message)}): stop that process or choose other ports. Nothing was served.",
        OptionsValidationException options => $"Invalid configuration, nothing was started: {string.Join(" ", options.Failures)}",
        // The Azure SDK's own retries given up on tries that timed out (Orleans' storage providers initialize through it
        // as the silo starts): each try is a TaskCanceledException, which names no storage. Unrecognized, it ended a
        // restart after a kill -9 during an Azurite stall as an unhandled exception, exit code 134 (a review, 2026-12-07).
        AggregateException all when IsStorageRetriesTimedOut(all) =>
            $"Storage did not answer while the registry started ({FirstLine(all.Message)} {FirstLine(all.InnerExceptions[^1].Message)}): check Registry:StorageConnectionString and that storage is up. Nothing was served.",
        AggregateException all => all.InnerExceptions.Select(RefusalOf).FirstOrDefault(m => m is not null),
        _ => RefusalOf(e.InnerException),
    };

    private static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();

    /// <summary>Azure.Core's "Retry failed after N tries" whose every try timed out or met storage unavailable.</summary>
    private static bool IsStorageRetriesTimedOut(AggregateException all) =>
        all.Message.StartsWith("Retry failed after ", StringComparison.Ordinal) && all.InnerExceptions.Count > 0
        && all.InnerExceptions.All(e => e is TaskCanceledException or TimeoutException or RequestFailedException { Status: 0 or 408 or >= 500 });

    /// <summary>What the process says when a stop (SIGTERM, Ctrl+C) came while the registry was still starting.</summary>
    public const string StoppedWhileStarting = "Stopped while starting (SIGTERM or Ctrl+C): nothing was served.";

    /// <summary>
    /// Runs a built host until it stops: exit code 0. A stop asked for while it is still starting cancels the start,
    /// which the host throws as a cancellation (from Orleans' silo lifecycle or a hosted service's start); that is the
    /// stop the operator asked for, said in one line with exit code 0, not an unhandled exception that aborts the
    /// process (exit code 134, as a review found under SIGTERM 5-11 s into a durable start).
    /// </summary>
    /// <param name="app">The built host.</param>
    /// <param name="error">Where the one line goes (the process's standard error).</param>
    /// <param name="stopRequested">A stop asked before the host took signals itself (<see cref="EarlyStop"/>).</param>
    public static async Task<int> RunToExitAsync(WebApplication app, TextWriter error, CancellationToken stopRequested = default)
    {
        // Taken first: RunAsync disposes the host, and its services with it, before it throws.
        var lifetime = app.Lifetime;
        var stopping = lifetime.ApplicationStopping;
        var endpoints = app.Services.GetService<ListenEndpoints>();
        var settings = app.Services.GetService<RegistrySettings>();
        var disposeBound = settings?.ShutdownTimeout ?? TimeSpan.FromSeconds(15);
        using var early = stopRequested.Register(lifetime.StopApplication);
        if (settings is { StopWhenInputEnds: true })
        {
            InputEndStop.Watch(lifetime, app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(InputEndStop).FullName!));
        }
        try
        {
            try
            {
                // What app.RunAsync does, with the disposal bounded: a stateless worker's request that never ends (an import
                // whose storage went away as the silo stopped) held Orleans' disposal, and the process, forever.
                await app.StartAsync();
                await app.WaitForShutdownAsync();
            }
            finally
            {
                await DisposeBounded(app, disposeBound, error);
            }
            return 0;
        }
        catch (Exception e) when (stopping.IsCancellationRequested && IsCancellation(e))
        {
            await error.WriteLineAsync(StoppedWhileStarting);
            return 0;
        }
        catch (Exception e) when (IsAddressInUse(e) && endpoints is not null && TakenSettings(e, endpoints) is { Count: > 0 } taken)
        {
            throw new RegistryStartupException(
                $"Another process took {string.Join(" or ", taken)} while the registry started (the port was free when the start checked it). Nothing was served; stop the other process or choose other ports.", e);
        }
    }

    /// <summary>
    /// The host's disposal, waited for at most <paramref name="bound"/> (<c>Registry:ShutdownTimeoutSeconds</c>): what is
    /// left then is abandoned with one line, as the process ends anyway once the run returns.
    /// </summary>
    private static async Task DisposeBounded(WebApplication app, TimeSpan bound, TextWriter error)
    {
        var disposal = app.DisposeAsync().AsTask();
        if (await Task.WhenAny(disposal, Task.Delay(bound)) != disposal)
        {
            await error.WriteLineAsync(DisposalAbandoned(bound));
            return;
        }
        await disposal;
    }

    public static string DisposalAbandoned(TimeSpan bound) =>
        $"The registry stopped, but releasing its resources did not end within {bound.TotalSeconds:0.#} s (Registry:ShutdownTimeoutSeconds): left to the process's exit.";

    /// <summary>
    /// The settings whose bind failed, as "Setting endpoint". Kestrel names the address it could not bind; Orleans names
    /// none, so its two ports are both named. (Probing the ports afterwards cannot tell: the failed silo still holds the
    /// one it had bound.)
    /// </summary>
    private static List<string> TakenSettings(Exception e, ListenEndpoints endpoints)
    {
        for (var inner = e; inner is not null; inner = inner.InnerException)
        {
            if (inner is IOException && KestrelBindFailure().Match(inner.Message) is { Success: true } failed)
            {
                var port = int.Parse(failed.Groups["port"].Value, System.Globalization.CultureInfo.InvariantCulture);
                return [.. endpoints.All.Where(x => x.Endpoint.Port == port).Select(x => $"{x.Setting} {x.Endpoint}")];
            }
        }
        return [.. endpoints.All.Where(x => x.Setting is "Registry:SiloPort" or "Registry:GatewayPort").Select(x => $"{x.Setting} {x.Endpoint}")];
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^Failed to bind to address \S*:(?<port>\d+)")]
    private static partial System.Text.RegularExpressions.Regex KestrelBindFailure();

    private static bool IsAddressInUse(Exception e) => e switch
    {
        Microsoft.AspNetCore.Connections.AddressInUseException => true,
        System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.AddressAlreadyInUse } => true,
        AggregateException all => all.InnerExceptions.Any(IsAddressInUse),
        _ => e.InnerException is { } inner && IsAddressInUse(inner),
    };

    private static bool IsCancellation(Exception e) => e switch
    {
        OperationCanceledException or Orleans.Runtime.OrleansLifecycleCanceledException => true,
        AggregateException all => all.InnerExceptions.Count > 0 && all.InnerExceptions.All(IsCancellation),
        _ => e.InnerException is { } inner && IsCancellation(inner),
    };
}
