using System.Runtime.InteropServices;

namespace Registry.Host;

/// <summary>
/// SIGTERM and SIGINT from the first line of <c>Main</c>: the host's console lifetime takes them only once it runs, a
/// second or two into a start, and before that a stop ended the process by the signal's default action (exit code 143,
/// nothing said, the data folder's new files already written: a re-check's finding, stop 32). The first signal is
/// held as a stop request, which <see cref="RegistryHost.RunToExitAsync"/> turns into the host's own stop; a second one
/// ends the process as the signal does (the console lifetime, once in place, takes every signal itself).
/// </summary>
public sealed class EarlyStop : IDisposable
{
    private readonly CancellationTokenSource _requested = new();
    private readonly PosixSignalRegistration _terminate;
    private readonly PosixSignalRegistration _interrupt;
    private int _signals;

    private EarlyStop()
    {
        _terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        _interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
    }

    /// <summary>Cancelled by the first SIGTERM or SIGINT.</summary>
    public CancellationToken Requested => _requested.Token;

    public static EarlyStop Register() => new();

    private void OnSignal(PosixSignalContext signal)
    {
        if (Interlocked.Increment(ref _signals) == 1)
        {
            signal.Cancel = true;
            _requested.Cancel();
        }
    }

    public void Dispose()
    {
        _terminate.Dispose();
        _interrupt.Dispose();
        _requested.Dispose();
    }
}
