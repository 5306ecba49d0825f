using Azure;
using Orleans.Storage;

namespace Registry.Host;

/// <summary>
/// The logger of the blob storage that keeps the index layout record (<see cref="Registry.Grains.Index.IndexPartitionCheck"/>),
/// without the one error that check handles: when the silos of a new cluster start together, each finds no record and
/// writes one, and the blob's ETag refuses all but the first (409 or 412). Orleans' provider logs that refusal as an
/// error with a stack trace before it throws; the check then reads the winner's record and goes on, so an operator's
/// first start showed a failure that was none. Every other entry, and that refusal's exception to the check, pass.
/// </summary>
internal sealed class LayoutRecordLogger(ILogger<AzureBlobGrainStorage> inner) : ILogger<AzureBlobGrainStorage>
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => inner.BeginScope(state);

    public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (logLevel >= LogLevel.Error && IsRecordRace(exception))
        {
            return;
        }
        inner.Log(logLevel, eventId, state, exception, formatter);
    }

    private static bool IsRecordRace(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is RequestFailedException { Status: 409 or 412 } or InconsistentStateException)
            {
                return true;
            }
        }
        return false;
    }
}
