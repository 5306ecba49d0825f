namespace Registry.Tests.Infrastructure;

/// <summary>
/// Waiting for a signal a test expects (a disconnect, an alert, a held chunk): bounded, so a signal that never comes
/// fails that test by name instead of stalling the whole run. The bound is a guard, not a timing assertion.
/// </summary>
public static class Signals
{
    /// <summary>Far beyond anything a passing test waits for, even on a loaded 2-core machine.</summary>
    public static readonly TimeSpan Guard = TimeSpan.FromMinutes(1);

    public static Task Within(this Task signal) => signal.WaitAsync(Guard, TestContext.Current.CancellationToken);

    public static Task<T> Within<T>(this Task<T> signal) => signal.WaitAsync(Guard, TestContext.Current.CancellationToken);
}
