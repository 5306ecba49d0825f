namespace Registry.Host;

/// <summary>
/// Makes <see cref="HostOptions.ShutdownTimeout"/> the bound of a stop, whatever storage does. While storage is
/// unreachable, Orleans' membership agent keeps retrying its last status writes (Stopping, Dead) for a minute or more
/// and does not observe the host's shutdown token, so the host would wait for it: a SIGTERM then did not stop the
/// process within 75 s. Here the host stops waiting when its token fires; the silo is abandoned, as after a crash,
/// which Orleans' membership protocol already handles (the other silos declare it dead).
/// </summary>
internal sealed partial class BoundedSiloStop(IHostedService inner, ILogger<BoundedSiloStop> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => inner.StartAsync(cancellationToken);

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        try
        {
            await inner.StopAsync(cancellationToken).WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            LogAbandoned(logger);
        }
    }

    /// <summary>Wraps the hosted services registered since <paramref name="from"/> (what UseOrleans added).</summary>
    public static void WrapAddedSince(IServiceCollection services, int from)
    {
        for (var i = from; i < services.Count; i++)
        {
            if (services[i] is { ServiceType: var type, ImplementationType: { } implementation, IsKeyedService: false } && type == typeof(IHostedService))
            {
                services[i] = ServiceDescriptor.Singleton<IHostedService>(sp => new BoundedSiloStop(
                    (IHostedService)ActivatorUtilities.CreateInstance(sp, implementation), sp.GetRequiredService<ILogger<BoundedSiloStop>>()));
            }
        }
    }

    [LoggerMessage(EventId = 4008, Level = LogLevel.Warning, Message = "The silo did not stop within Registry:ShutdownTimeoutSeconds (is storage reachable?); the process stops without it.")]
    private static partial void LogAbandoned(ILogger logger);
}
