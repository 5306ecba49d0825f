using Registry.Abstractions;

namespace Registry.Grains;

/// <summary>
/// How a durable start asks storage again when it does not answer in time: up to <see cref="Attempts"/> tries, the
/// pauses between them starting at 1 s and doubling (~15 s of pauses, each try bounded by <c>StorageTimeoutSeconds</c>).
/// The host's probe before the start had found storage up, so a slow answer here is a stall, not an outage: a restart
/// right after a <c>kill -9</c> met one Azurite stall and ended its start (reviews, 2026-12-07). One policy for every
/// read a durable start depends on (the index layout check, the cluster's access policies), so they ride out the same
/// stall; storage that answers with a refusal is not asked again.
/// </summary>
public static class StartRetry
{
    /// <summary>Tries in all, the first included.</summary>
    public const int Attempts = 5;

    /// <summary>The pause after the first slow try; each later pause doubles it.</summary>
    public static readonly TimeSpan FirstPause = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Runs <paramref name="attempt"/> until it succeeds, fails otherwise than by slow storage, or has been tried
    /// <see cref="Attempts"/> times; <paramref name="retrying"/> is told each try that goes again (its number, the tries in
    /// all, and what storage said) before its pause.
    /// </summary>
    public static async Task<T> Run<T>(Func<Task<T>> attempt, Action<int, int, string> retrying, TimeSpan? firstPause, CancellationToken cancellationToken)
    {
        var pause = firstPause ?? FirstPause;
        for (var tried = 1; ; tried++)
        {
            try
            {
                return await attempt().WaitAsync(cancellationToken);
            }
            catch (Exception e) when (tried < Attempts && IsStorageSlow(e) && !cancellationToken.IsCancellationRequested)
            {
                retrying(tried, Attempts, e.Message);
                await Task.Delay(pause, cancellationToken);
                pause *= 2;
            }
        }
    }

    /// <summary>Storage did not answer in time (the registry's bound, or a timeout beneath it), directly or as the cause.</summary>
    public static bool IsStorageSlow(Exception e) =>
        e is StorageUnavailableException or TimeoutException || e.InnerException is StorageUnavailableException or TimeoutException;
}
