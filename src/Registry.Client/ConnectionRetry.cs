namespace Registry.Client;

/// <summary>
/// Retries the client's first connection for <see cref="RegistryClientOptions.ConnectTimeout"/>: silos and gateways
/// of a cluster start in any order (compose, a script), and a client that gave up on the first empty gateway list would
/// need its operator to restart it. After the bound, the last failure ends the start.
/// </summary>
internal sealed class ConnectionRetry(TimeSpan timeout, TimeProvider clock) : IClientConnectionRetryFilter
{
    private static readonly TimeSpan Pause = TimeSpan.FromSeconds(1);
    private readonly long _started = clock.GetTimestamp();

    public async Task<bool> ShouldRetryConnectionAttempt(Exception exception, CancellationToken cancellationToken)
    {
        if (clock.GetElapsedTime(_started) + Pause > timeout)
        {
            return false;
        }
        // The pace of reconnect attempts while no silo is listed yet, not a wait for a signal.
        await Task.Delay(Pause, clock, cancellationToken);
        return true;
    }
}
