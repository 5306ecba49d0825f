using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Registry.Abstractions;
using Registry.Client;
using Registry.Gateway.Security;

namespace Registry.Gateway.Apis;

/// <summary>
/// The registry's notifications for HTTP consumers: <c>GET /events/{source}</c> answers a server-sent events stream, one
/// <c>data:</c> line of JSON per event (its system and application properties and its body). It subscribes to the
/// Orleans stream through the client-side stream API, so a gateway that only holds a cluster client serves it too.
/// </summary>
internal static partial class EventsApi
{
    public const string ContentType = "text/event-stream";

    /// <summary>Sent once the subscription is in place: an event raised after it reaches this consumer.</summary>
    public const string SubscribedComment = ": subscribed";

    /// <summary>How much earlier than the subscription an event may say it was enqueued and still be the consumer's: the clocks of silos and gateways differ a little.</summary>
    public static readonly TimeSpan ReplayTolerance = TimeSpan.FromSeconds(5);

    public const string KeepAliveComment = ": keep-alive";

    /// <summary>The last line of a stream whose token expired or no longer grants ServiceConnect (a policy removed, its key regenerated).</summary>
    public const string UnauthorizedComment = ": closed: the SAS token expired or no longer grants ServiceConnect";

    /// <summary>
    /// The last line of a stream whose subscription the cluster dropped: Orleans removes a client's subscription when a
    /// delivery finds the client unreachable (its gateway silo died), and tells the client nothing.
    /// </summary>
    public const string SubscriptionLostComment = ": closed: the cluster dropped this stream's subscription (a silo failed); reconnect";

    /// <summary>Longest wait armed for a token's expiry (a timer takes at most ~49 days); a later one is found by the checks at keep-alives and events.</summary>
    private static readonly TimeSpan MaxExpiryWait = TimeSpan.FromDays(30);

    public static RouteGroupBuilder MapEventsApi(this RouteGroupBuilder api)
    {
        api.MapGet("/events/{source}", StreamEvents).WithMetadata(RequiredAccess.ServiceConnect);
        // No source, more segments, another method: IoT Hub's error shape rather than an empty 404/405.
        api.Map("/events/{**rest}", UnsupportedApi.Unsupported);
        return api;
    }

    public static async Task<EmptyHttpResult> StreamEvents(
        string source,
        HttpContext context,
        [FromServices] IClusterClient client,
        [FromServices] IOptions<EventStreamOptions> options,
        [FromServices] IHostApplicationLifetime lifetime,
        [FromKeyedServices(RegistryClock.Key)] TimeProvider clock,
        [FromServices] ILoggerFactory loggers,
        [FromServices] SharedAccessAuthorizer authorizer,
        [FromServices] IOptions<SharedAccessOptions> access)
    {
        var known = RoutedSource(source, options.Value);
        var logger = loggers.CreateLogger(typeof(EventsApi).FullName!);
        var backlog = Channel.CreateBounded<RegistryEvent>(new BoundedChannelOptions(options.Value.MaxBacklog) { SingleReader = true });
        // Cancelled when the backlog overflows: the relay is then most likely stuck writing to a consumer that stopped
        // reading, and only cancelling that write frees it to end the connection.
        using var overflow = new CancellationTokenSource();
        var replays = new EventReplayFilter(clock.GetUtcNow().UtcDateTime, ReplayTolerance);
        // Before anything is written: a cluster that cannot subscribe answers IoT Hub's 503 like any other call.
        // Called for several of the source's streams at once: the filter locks, the channel takes concurrent writers.
        var subscription = await RegistryEventSubscription.SubscribeAsync(client, known, registryEvent =>
        {
            if (!replays.Admit(registryEvent))
            {
                return Task.CompletedTask;
            }
            if (!backlog.Writer.TryWrite(registryEvent) && backlog.Writer.TryComplete(new BacklogOverflowException()))
            {
                try
                {
                    // Asynchronously: the relay's continuation must not run on the stream's delivery thread.
                    overflow.CancelAsync().Ignore();
                }
                catch (ObjectDisposedException)
                {
                    // The stream ended meanwhile: nothing is left to free.
                }
            }
            return Task.CompletedTask;
        });
        // As IoT Hub ends a connection when its token expires: the stream ends then (its se plus the clock skew), and
        // at a keep-alive or an event once the token no longer passes (expired, policy removed or its key regenerated).
        var token = new StreamToken(authorizer, access.Value.Enabled ? context.Request.Headers.Authorization.ToString() : null,
            context.Request.PathBase.Add(context.Request.Path).Value ?? "/", clock);
        using var expired = token.ExpiryCancellation();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping, overflow.Token, expired.Token);
        try
        {
            LogConsumerJoined(logger, known);
            var response = context.Response;
            context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = ContentType;
            response.Headers.CacheControl = "no-cache";
            await Comment(response, SubscribedComment, stop.Token);
            await Relay(backlog.Reader, response, options.Value.KeepAliveInterval, clock, token, () => StillSubscribed(subscription), stop.Token);
            await Comment(response, UnauthorizedComment, context.RequestAborted);
        }
        catch (SubscriptionLostException)
        {
            LogSubscriptionLost(logger, known);
            try
            {
                await Comment(context.Response, SubscriptionLostComment, context.RequestAborted);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException)
            {
                // The consumer left meanwhile.
            }
            // Ended cleanly, as a stream whose token expired, so the comment saying why reaches the consumer (an abort
            // can discard it): the stream ends either way, and a consumer reconnects.
        }
        catch (OperationCanceledException) when (expired.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested)
        {
            try
            {
                await token.UntilExpired(context.RequestAborted);
                await Comment(context.Response, UnauthorizedComment, context.RequestAborted);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException)
            {
                // The consumer left meanwhile.
            }
        }
        catch (Exception e) when (e is BacklogOverflowException || (overflow.IsCancellationRequested && e is OperationCanceledException or IOException))
        {
            LogConsumerTooSlow(logger, known, options.Value.MaxBacklog);
            // Aborted, not completed: a response that ends cleanly can leave a keep-alive connection open with events
            // missing, whereas a reset tells the consumer it missed some and must reconnect.
            context.Abort();
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // The consumer left, or the host is stopping: the stream simply ends.
        }
        catch (IOException) when (stop.IsCancellationRequested || context.RequestAborted.IsCancellationRequested)
        {
        }
        finally
        {
            backlog.Writer.TryComplete();
            try
            {
                await subscription.UnsubscribeAsync();
            }
            catch (Exception e)
            {
                LogUnsubscribeFailed(logger, e, known);
            }
            LogConsumerLeft(logger, known);
        }
        return TypedResults.Empty;
    }

    /// <summary>The source in its canonical spelling, or IoT Hub's routing error: unknown source, or no route for it.</summary>
    private static string RoutedSource(string source, EventStreamOptions options)
    {
        if (!RegistryEventSources.TryNormalize(source, out var known))
        {
            throw new RegistryException(RegistryErrorCode.InvalidSourceOnRoute,
                $"'{source}' is not an event source: use {string.Join(" or ", RegistryEventSources.All)}.");
        }
        if (!options.RoutedSources.Contains(known))
        {
            throw new RegistryException(RegistryErrorCode.RoutingNotEnabled,
                $"No route is enabled for {RegistryEventSources.RouteName(known)}: add one to Registry:Routes to receive its events.");
        }
        return known;
    }

    /// <summary>
    /// Whether the cluster still holds every stream's subscription (the pub-sub lists it among this client's
    /// subscriptions to that stream). Not knowing (the cluster does not answer now) counts as held: the next keep-alive asks again.
    /// </summary>
    private static async Task<bool> StillSubscribed(RegistryEventSubscription subscription)
    {
        try
        {
            return await subscription.StillSubscribedAsync();
        }
        catch (Exception e) when (e is TimeoutException or OrleansException)
        {
            return true;
        }
    }

    /// <summary>
    /// Writes every event as it comes, and a comment whenever the stream was idle for <paramref name="keepAlive"/>;
    /// returns when the backlog ends or <paramref name="access"/> no longer passes. At each keep-alive it also asks
    /// whether the cluster still holds the subscription (<paramref name="subscribed"/>) and throws
    /// <see cref="SubscriptionLostException"/> when not: a stream whose subscription was dropped sends keep-alives and no
    /// events for good (a review saw consumers silent for minutes after a silo's <c>kill -9</c>, 2026-12-06).
    /// </summary>
    private static async Task Relay(ChannelReader<RegistryEvent> backlog, HttpResponse response, TimeSpan keepAlive, TimeProvider clock, StreamToken access,
        Func<Task<bool>> subscribed, CancellationToken token)
    {
        Task<bool>? waiting = null;
        while (true)
        {
            waiting ??= backlog.WaitToReadAsync(token).AsTask();
            using (var idle = CancellationTokenSource.CreateLinkedTokenSource(token))
            {
                var tick = Task.Delay(keepAlive, clock, idle.Token);
                if (await Task.WhenAny(waiting, tick) == tick)
                {
                    await tick;
                    if (!access.StillGranted())
                    {
                        return;
                    }
                    if (!await subscribed())
                    {
                        throw new SubscriptionLostException();
                    }
                    await Comment(response, KeepAliveComment, token);
                    continue;
                }
                idle.Cancel();
            }
            if (!await waiting)
            {
                return;
            }
            waiting = null;
            if (!access.StillGranted())
            {
                return;
            }
            while (backlog.TryRead(out var registryEvent))
            {
                await response.Body.WriteAsync(DataLine(registryEvent), token);
            }
            await response.Body.FlushAsync(token);
        }
    }

    private static async Task Comment(HttpResponse response, string comment, CancellationToken token)
    {
        await response.Body.WriteAsync(Encoding.UTF8.GetBytes(comment + "\n\n"), token);
        await response.Body.FlushAsync(token);
    }

    /// <summary><c>data: {"systemProperties":{…},"applicationProperties":{…},"body":{…}}</c> and the blank line that ends an event.</summary>
    public static byte[] DataLine(RegistryEvent registryEvent)
    {
        using var buffer = new MemoryStream();
        buffer.Write("data: "u8);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            Properties(json, "systemProperties", registryEvent.SystemProperties);
            Properties(json, "applicationProperties", registryEvent.ApplicationProperties);
            json.WritePropertyName("body");
            if (IsJson(registryEvent.Body))
            {
                json.WriteRawValue(registryEvent.Body);
            }
            else
            {
                json.WriteStringValue(registryEvent.Body);
            }
            json.WriteEndObject();
        }
        buffer.Write("\n\n"u8);
        return buffer.ToArray();
    }

    private static void Properties(Utf8JsonWriter json, string name, IReadOnlyDictionary<string, string> properties)
    {
        json.WriteStartObject(name);
        foreach (var (key, value) in properties)
        {
            json.WriteString(key, value);
        }
        json.WriteEndObject();
    }

    /// <summary>Bodies are JSON by contract; one that is not still reaches the consumer, as a string, rather than breaking its stream.</summary>
    private static bool IsJson(string body)
    {
        try
        {
            using var _ = JsonDocument.Parse(body);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private sealed class BacklogOverflowException : Exception;

    private sealed class SubscriptionLostException : Exception;

    /// <summary>The token a stream was opened with (null when authentication is off), checked again while it runs.</summary>
    private sealed class StreamToken(SharedAccessAuthorizer authorizer, string? authorization, string path, TimeProvider clock)
    {
        public bool StillGranted() => authorization is null || authorizer.AuthorizeService(authorization, path, AccessRights.ServiceConnect).IsGranted;

        /// <summary>Cancelled when the token expires (never without one).</summary>
        public CancellationTokenSource ExpiryCancellation()
        {
            if (authorization is null || !SharedAccessSignature.TryParse(authorization, out var sas))
            {
                return new CancellationTokenSource();
            }
            var wait = SharedAccessSignature.ExpiryOf(sas.ExpiresOn) - clock.GetUtcNow();
            return wait > MaxExpiryWait ? new CancellationTokenSource() : new CancellationTokenSource(wait < TimeSpan.Zero ? TimeSpan.Zero : wait, clock);
        }

        /// <summary>Returns once the token is expired by the wall clock (at once without one).</summary>
        public Task UntilExpired(CancellationToken cancellation) =>
            authorization is not null && SharedAccessSignature.TryParse(authorization, out var sas)
                ? SharedAccessSignature.UntilExpired(sas.ExpiresOn, clock, cancellation)
                : Task.CompletedTask;
    }

    [LoggerMessage(EventId = 1202, Level = LogLevel.Information, Message = "An event stream consumer of {Source} joined")]
    private static partial void LogConsumerJoined(ILogger logger, string source);

    [LoggerMessage(EventId = 1203, Level = LogLevel.Information, Message = "An event stream consumer of {Source} left")]
    private static partial void LogConsumerLeft(ILogger logger, string source);

    [LoggerMessage(EventId = 1204, Level = LogLevel.Warning, Message = "An event stream consumer of {Source} fell more than {MaxBacklog} events behind; its stream was ended")]
    private static partial void LogConsumerTooSlow(ILogger logger, string source, int maxBacklog);

    [LoggerMessage(EventId = 1207, Level = LogLevel.Warning, Message = "The cluster dropped the stream subscription of a {Source} consumer (a silo it was reached through failed); its stream was ended so it reconnects")]
    private static partial void LogSubscriptionLost(ILogger logger, string source);

    [LoggerMessage(EventId = 1205, Level = LogLevel.Warning, Message = "The stream subscription of a departed {Source} consumer could not be removed")]
    private static partial void LogUnsubscribeFailed(ILogger logger, Exception exception, string source);
}
