using System.Text;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Registry.Abstractions;
using Registry.Client;
using Registry.Gateway;
using Registry.Gateway.Apis;

namespace Registry.Tests.Events;

/// <summary>
/// A consumer that stops reading: once it is more than <see cref="EventStreamOptions.MaxBacklog"/> events behind, its
/// connection is ended (it sees EOF or a reset and reconnects) rather than kept open while events are dropped. The
/// endpoint runs in process against the real cluster, with a response body whose writes never complete, as a socket's
/// do once the consumer's buffers are full.
/// </summary>
public sealed class SlowEventConsumerTests(RoutedHostFixture fixture) : IClassFixture<RoutedHostFixture>
{
    private const int MaxBacklog = 3;

    [Fact(Timeout = 60_000)]
    public async Task A_consumer_more_than_MaxBacklog_events_behind_is_disconnected_after_an_unbroken_prefix_of_events()
    {
        var ct = TestContext.Current.CancellationToken;
        var body = new StalledBody();
        var lifetime = new AbortRecorder();
        var context = new DefaultHttpContext();
        context.Features.Set<IHttpRequestLifetimeFeature>(lifetime);
        context.Response.Body = body;
        var options = Options.Create(new EventStreamOptions
        {
            RoutedSources = new HashSet<string>([RegistryEventSources.DeviceLifecycle]),
            KeepAliveInterval = TimeSpan.FromHours(1),
            MaxBacklog = MaxBacklog,
        });
        var serving = EventsApi.StreamEvents(RegistryEventSources.DeviceLifecycle, context, fixture.ClusterClient, options,
            fixture.Host.Services.GetRequiredService<IHostApplicationLifetime>(), TimeProvider.System, NullLoggerFactory.Instance,
            fixture.Host.Services.GetRequiredService<Registry.Gateway.Security.SharedAccessAuthorizer>(),
            Options.Create(new Registry.Gateway.Security.SharedAccessOptions { Enabled = false }));
        // All onto one of the source's streams, so they come in order.
        var stream = RegistryEventSubscription.StreamsOf(fixture.ClusterClient, RegistryEventSources.DeviceLifecycle)[0];
        Assert.Equal(EventsApi.SubscribedComment + "\n\n", await body.Written.Reader.ReadAsync(ct));

        // The first event's write never completes; the next MaxBacklog wait in the backlog, and one more overflows it.
        body.Stall();
        await stream.OnNextAsync(Event(0));
        Assert.Contains("\"deviceId\":\"slow-0\"", await body.Written.Reader.ReadAsync(ct), StringComparison.Ordinal);
        for (var i = 1; i <= MaxBacklog + 1; i++)
        {
            await stream.OnNextAsync(Event(i));
        }
        await serving;

        Assert.True(lifetime.Aborted, "the connection of a consumer that fell behind was not ended");
        body.Written.Writer.TryComplete();
        var written = new List<string>();
        await foreach (var chunk in body.Written.Reader.ReadAllAsync(ct))
        {
            written.Add(chunk);
        }
        // Nothing after the stalled write reached the consumer: no event was skipped on a connection left open.
        Assert.Empty(written);
        Assert.Empty(await stream.GetAllSubscriptionHandles());
    }

    private static RegistryEvent Event(int n) => new()
    {
        Source = RegistryEventSources.DeviceLifecycle,
        OpType = "createDeviceIdentity",
        DeviceId = $"slow-{n}",
        OperationTimestamp = DateTime.UnixEpoch,
        SystemProperties = new Dictionary<string, string>(),
        ApplicationProperties = new Dictionary<string, string> { ["deviceId"] = $"slow-{n}" },
        Body = "{}",
    };

    /// <summary>Records each write; once stalled, a write never completes unless its token is cancelled.</summary>
    private sealed class StalledBody : Stream
    {
        private volatile bool _stalled;

        public Channel<string> Written { get; } = Channel.CreateUnbounded<string>();

        public void Stall() => _stalled = true;

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Written.Writer.TryWrite(Encoding.UTF8.GetString(buffer.Span));
            if (_stalled)
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public override void Flush()
        {
        }

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }
    }

    /// <summary>Kestrel's request lifetime: <see cref="Abort"/> ends the connection and cancels RequestAborted.</summary>
    private sealed class AbortRecorder : IHttpRequestLifetimeFeature
    {
        private readonly CancellationTokenSource _aborted = new();

        public bool Aborted => _aborted.IsCancellationRequested;

        public CancellationToken RequestAborted
        {
            get => _aborted.Token;
            set => throw new NotSupportedException();
        }

        public void Abort() => _aborted.Cancel();
    }
}
