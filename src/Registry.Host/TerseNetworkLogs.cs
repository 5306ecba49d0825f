using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging.Console;

namespace Registry.Host;

/// <summary>
/// The console's log lines of Orleans (and of the Polly retries it runs) about a silo that cannot be reached, said in
/// their message and the exception's type and text, without the stack trace. A silo killed with <c>kill -9</c> made each
/// survivor log a connection refusal per retry, each with a 4- to 20-line stack that says nothing an operator can act on
/// (a review counted 2,493 lines in one survivor; README "Known limits"). Every other entry, and every exception that is
/// not a failed connection, keeps its stack. Only the console is decorated: other providers (OpenTelemetry) get the
/// entry as logged. It keeps the console provider's alias, so <c>Logging:Console:*</c> settings still apply.
/// </summary>
[ProviderAlias("Console")]
internal sealed partial class TerseNetworkLogs(ILoggerProvider console) : ILoggerProvider, ISupportExternalScope
{
    /// <summary>The exceptions of a connection to a silo (or client) that is gone, by type name: several are Orleans' internals.</summary>
    private static readonly HashSet<string> ConnectionFailures = new(StringComparer.Ordinal)
    {
        "SocketConnectionException", "ConnectionFailedException", "OrleansMessageRejectionException", "ConnectionResetException",
        "ConnectionAbortedException", "SocketException", "SiloUnavailableException",
    };

    /// <summary>Puts the decorator in place of the console provider the host builder registered, if there is one.</summary>
    public static void Apply(IServiceCollection services)
    {
        var registered = services.FirstOrDefault(d => d.ServiceType == typeof(ILoggerProvider) && d.ImplementationType == typeof(ConsoleLoggerProvider));
        if (registered is null)
        {
            return; // no console (a test host's own providers)
        }
        services.Remove(registered);
        services.AddSingleton<ConsoleLoggerProvider>();
        services.AddSingleton<ILoggerProvider>(sp => new TerseNetworkLogs(sp.GetRequiredService<ConsoleLoggerProvider>()));
    }

    public ILogger CreateLogger(string categoryName)
    {
        var inner = console.CreateLogger(categoryName);
        return categoryName.StartsWith("Orleans", StringComparison.Ordinal) || categoryName.StartsWith("Polly", StringComparison.Ordinal)
            ? new Logger(inner)
            : inner;
    }

    public void SetScopeProvider(IExternalScopeProvider scopeProvider)
    {
        if (console is ISupportExternalScope scoped)
        {
            scoped.SetScopeProvider(scopeProvider);
        }
    }

    public void Dispose() => console.Dispose();

    /// <summary>Whether the exception, or one it wraps, is a failed connection.</summary>
    public static bool IsConnectionFailure(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (ConnectionFailures.Contains(e.GetType().Name))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Whether a message's own text carries a failed connection's exception (with its stack).</summary>
    public static bool NamesConnectionFailure(string text) =>
        text.Contains("ConnectionFailedException", StringComparison.Ordinal) || text.Contains("SocketConnectionException", StringComparison.Ordinal);

    /// <summary>The message without the stack frames some loggers (Polly's) put in it, and the exception as one clause.</summary>
    public static string Terse(string message, Exception? exception)
    {
        var text = StackLines().Replace(message, "");
        return exception is null ? text : $"{text} ({exception.GetType().FullName}: {exception.Message.Split('\n', 2)[0].Trim()})";
    }

    /// <summary>A stack frame line ("   at X in file:line N", up to a quote that closes the message's own text) or a stack's separator line.</summary>
    [GeneratedRegex(@"\r?\n[ \t]+(at [^\n']*|--- End of [^\n]*---)")]
    private static partial Regex StackLines();

    private sealed class Logger(ILogger inner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsConnectionFailure(exception))
            {
                inner.Log(logLevel, eventId, state, null, (s, _) => Terse(formatter(s, exception), exception));
            }
            else if (exception is null && logLevel >= LogLevel.Warning && inner.IsEnabled(logLevel) && formatter(state, null) is var text
                && NamesConnectionFailure(text))
            {
                // Orleans' indirect probes put the failure's whole text, stack included, in the message itself (a warning;
                // below that the message is not formatted twice).
                inner.Log(logLevel, eventId, state, null, (_, _) => Terse(text, null));
            }
            else
            {
                inner.Log(logLevel, eventId, state, exception, formatter);
            }
        }
    }
}
