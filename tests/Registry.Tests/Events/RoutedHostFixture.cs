using System.Threading.Channels;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Registry.Gateway;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Events;

/// <summary>
/// The real registry process (embedded mode) with both sources routed, as configuration spells routes, and a short
/// keep-alive so an idle event stream shows its comments within a test.
/// </summary>
public sealed class RoutedHostFixture : IAsyncLifetime
{
    public static readonly TimeSpan KeepAlive = TimeSpan.FromMilliseconds(200);

    public RegistryTestHost Host { get; private set; } = null!;

    public HttpClient Client { get; private set; } = null!;

    public IClusterClient ClusterClient => Host.Services.GetRequiredService<IClusterClient>();

    public StreamConsumerLogs Consumers { get; } = new();

    public static Dictionary<string, string?> Routes => new()
    {
        ["Registry:Routes:0:Name"] = "lifecycle",
        ["Registry:Routes:0:Source"] = "DeviceLifecycleEvents",
        ["Registry:Routes:1:Name"] = "alerts",
        ["Registry:Routes:1:Source"] = "HeartbeatEvents",
    };

    public async ValueTask InitializeAsync()
    {
        Host = await RegistryTestHost.StartAsync(Routes, configure: builder =>
        {
            builder.Services.Configure<EventStreamOptions>(o => o.KeepAliveInterval = KeepAlive);
            builder.Logging.AddProvider(Consumers);
            builder.Logging.AddFilter("Registry.Gateway.Apis.EventsApi", LogLevel.Information);
        });
        Client = Host.CreateClient();
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Host.DisposeAsync();
    }
}

/// <summary>Counts the event stream consumers the gateway reports joining and leaving (its log events 1202 and 1203).</summary>
public sealed class StreamConsumerLogs : ILoggerProvider
{
    private readonly Channel<int> _changes = Channel.CreateUnbounded<int>();
    private int _joined;
    private int _left;

    public int Joined => Volatile.Read(ref _joined);

    public int Left => Volatile.Read(ref _left);

    /// <summary>Returns once every consumer that joined has left (its subscription removed), woken by each report.</summary>
    public async Task AllLeftAsync(CancellationToken cancellationToken)
    {
        while (Left < Joined)
        {
            await _changes.Reader.ReadAsync(cancellationToken);
        }
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void Dispose()
    {
    }

    private sealed class Logger(StreamConsumerLogs owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Id == 1202)
            {
                Interlocked.Increment(ref owner._joined);
            }
            else if (eventId.Id == 1203)
            {
                Interlocked.Increment(ref owner._left);
            }
            else
            {
                return;
            }
            owner._changes.Writer.TryWrite(eventId.Id);
        }
    }
}
