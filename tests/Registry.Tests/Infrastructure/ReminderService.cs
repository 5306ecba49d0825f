using Registry.Abstractions;

namespace Registry.Tests.Infrastructure;

/// <summary>
/// A monitoring change answers 503 (<see cref="StorageUnavailableException"/>) while the silo's reminder service has not
/// read its table since the start: Orleans retries a failed first read on its own timer, tens of seconds later.
/// </summary>
public static class ReminderService
{
    /// <summary>
    /// Runs <paramref name="call"/> until it is not refused as unavailable, pausing between attempts (100 ms, doubling
    /// to 2 s) and writing each refusal to the test's output; <paramref name="cancellation"/> (the test's timeout) bounds it.
    /// </summary>
    public static async Task<T> RetryWhileUnavailableAsync<T>(Func<Task<T>> call, CancellationToken cancellation)
    {
        var pause = TimeSpan.FromMilliseconds(100);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await call().WaitAsync(cancellation);
            }
            catch (StorageUnavailableException e)
            {
                TestContext.Current.TestOutputHelper?.WriteLine($"attempt {attempt} refused: {e.Message}");
            }
            await Task.Delay(pause, cancellation);
            pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, TimeSpan.FromSeconds(2).Ticks));
        }
    }
}
