using System.Collections.Concurrent;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Adapter;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using MQTTnet.Server;
using Registry.Abstractions;
using Registry.Gateway.Security;
using Registry.Gateway.Throttling;

namespace Registry.Gateway.Mqtt;

/// <summary>
/// The MQTT 3.1.1 device edge: MQTTnet's broker fed by Kestrel connections (<see cref="MqttEdgeListenExtensions"/>),
/// speaking IoT Hub's device side (docs/wire-contract.md, "Devices over MQTT"). A CONNECT is IoT Hub's username and
/// SAS password, checked by <see cref="DeviceAccessAuthorizer"/> and then by the device grain, which is the authority;
/// telemetry is counted on the device grain (bodies are never stored or forwarded); the subscriptions the SDKs make on
/// open are accepted and stay silent. Anything else closes the connection: 3.1.1 has no way to refuse a publish.
/// </summary>
public sealed partial class MqttDeviceEdge : IMqttServerAdapter, IHostedService
{
    /// <summary>
    /// The longest a throttled publish waits for the DeviceToCloudSends budget (IoT Hub shapes traffic at the limit
    /// rather than refusing it); beyond it the connection is closed, and the device's SDK retries.
    /// </summary>
    public static readonly TimeSpan MaxThrottleWait = TimeSpan.FromSeconds(10);

    /// <summary>The edge only ever sends small packets (CONNACK, PUBACK, SUBACK, PINGRESP): a small writer per connection.</summary>
    private const int WriterBufferBytes = 256;

    private readonly MqttServer _server;
    private readonly MqttEdgeOptions _options;
    private readonly SharedAccessOptions _access;
    private readonly DeviceAccessAuthorizer _authorizer;
    private readonly IThrottle _throttle;
    private readonly IGrainFactory _grains;
    private readonly CancellationTokenSource _stopping = new();
    private Task _refresh = Task.CompletedTask;
    private readonly TimeProvider _clock;
    private readonly ILogger<MqttDeviceEdge> _logger;
    private readonly ConcurrentDictionary<string, MqttDeviceSession> _sessions = new(StringComparer.Ordinal);
    // Devices with a CONNECT being admitted here, by count. A grain's order to close an older session of such a device
    // is left to MQTTnet's takeover, which closes that connection once the newer CONNECT is accepted: closing it here as
    // well raced the takeover, and an older connection that ended before MQTTnet marked it taken over removed the newer
    // connection's client and session from MQTTnet on its way out.
    private readonly ConcurrentDictionary<string, AdmissionTurn> _admitting = new(StringComparer.Ordinal);
    private readonly MqttSessionObserver _observer;
    private readonly Lazy<IDeviceSessionObserver> _observerReference;
    private int _open;
    private long _lastLimitWarning = long.MinValue;

    internal MqttDeviceEdge(
        IOptions<MqttEdgeOptions> options,
        IOptions<SharedAccessOptions> access,
        DeviceAccessAuthorizer authorizer,
        SharedAccessPolicies policies,
        IThrottle throttle,
        IGrainFactory grains,
        TimeProvider clock,
        ILogger<MqttDeviceEdge> logger)
    {
        _options = options.Value;
        _access = access.Value;
        _authorizer = authorizer;
        _throttle = throttle;
        _grains = grains;
        _clock = clock;
        _logger = logger;
        _observer = new MqttSessionObserver(this);
        // Created on the first CONNECT, when the silo is up; the edge holds the object so the reference stays alive.
        _observerReference = new(() => _grains.CreateObjectReference<IDeviceSessionObserver>(_observer));
        _server = new MqttServer(new MqttServerOptionsBuilder().WithoutDefaultEndpoint().Build(), [this], MqttNetNullLogger.Instance);
        _server.ValidatingConnectionAsync += OnConnectAsync;
        _server.InterceptingPublishAsync += OnPublishAsync;
        _server.InterceptingSubscriptionAsync += OnSubscribeAsync;
        policies.Replaced += () => _ = RecheckPolicySessionsAsync();
    }

    /// <summary>For tests: a connection was admitted and its connect deadline runs.</summary>
    internal event Action? Admitted;

    /// <summary>For tests: a device session ended at this edge and the device grain was told.</summary>
    internal event Action<string>? SessionEnded;

    /// <summary>For tests: this edge closed a session on its device grain's order (device id, reason).</summary>
    internal event Action<string, SessionCloseReason>? SessionAborted;

    /// <summary>For tests: the sessions connected with a policy's token were checked against the policies just replaced.</summary>
    internal event Action? PolicySessionsRechecked;

    /// <summary>For tests: a device grain ordered this edge to close a session (device id), before the edge decides.</summary>
    internal event Action<string>? CloseOrdered;

    /// <summary>For tests: a dropped connection's will message was left unsent and uncounted (device id).</summary>
    internal event Action<string>? WillIgnored;

    /// <summary>For tests: a CONNECT waits for another CONNECT of the same device to finish its turn (device id).</summary>
    internal event Action<string>? AdmissionQueued;

    /// <summary>For tests: awaited once a CONNECT is granted by its device grain, before the session is registered here.</summary>
    internal Func<string, Task>? RegisteringSession { get; set; }

    /// <summary>Connections open now, handshaking ones included.</summary>
    public int OpenConnections => Volatile.Read(ref _open);

    /// <summary>Devices with a granted session at this edge.</summary>
    public int ConnectedDevices => _sessions.Count;

    Func<IMqttChannelAdapter, Task>? IMqttServerAdapter.ClientHandler { get; set; }

    Task IMqttServerAdapter.StartAsync(MqttServerOptions options, IMqttNetLogger logger) => Task.CompletedTask;

    Task IMqttServerAdapter.StopAsync() => Task.CompletedTask;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await _server.StartAsync();
        _refresh = RefreshSessionsAsync(_stopping.Token);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        // A pass in flight starts no more calls; those it has out end by themselves (a silo lost mid-pass leaves them
        // waiting for Orleans' response timeout): the stop waits for them only as long as the host lets it.
        await _stopping.CancelAsync();
        await Task.WhenAny(_refresh, Task.Delay(Timeout.Infinite, cancellationToken));
        await _server.StopAsync(new MqttServerStopOptions());
        if (_observerReference.IsValueCreated)
        {
            _grains.DeleteObjectReference<IDeviceSessionObserver>(_observerReference.Value);
        }
    }

    public void Dispose()
    {
        if (_refresh.IsCompleted)
        {
            _stopping.Dispose(); // else the pass still holds its token; the source has no timer to release
        }
        _server.Dispose();
    }

    /// <summary>For tests: a pass of <see cref="RefreshSessionsAsync"/> ended.</summary>
    internal event Action? SessionsRefreshed;

    /// <summary>
    /// Every <see cref="MqttEdgeOptions.SessionRefresh"/>, re-asserts to its device grain each session the grain heard
    /// nothing of for as long (<see cref="IDeviceGrain.Reattach"/>), and closes it if the grain refuses it. A session
    /// lives in its device's grain: when the grain's silo dies or stops, the activation made elsewhere knew no session
    /// until the device's next message or keep-alive (180 s for the SDKs), so meanwhile the device showed Disconnected and
    /// a disable, delete or re-key could not close its connection (hostile review, 2026-12-06: 15 of 30 disabled devices
    /// still connected 15 s after the disable, closed only at their keep-alive).
    /// </summary>
    private async Task RefreshSessionsAsync(CancellationToken stop)
    {
        var every = _options.SessionRefresh;
        if (every <= TimeSpan.Zero)
        {
            return;
        }
        while (true)
        {
            try
            {
                await Task.Delay(every, _clock, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            var due = _sessions.Values.Where(s => _clock.GetElapsedTime(Volatile.Read(ref s.LastGrainCall)) >= every).ToArray();
            try
            {
                await Parallel.ForEachAsync(due, new ParallelOptions { MaxDegreeOfParallelism = RefreshParallelism, CancellationToken = stop },
                    async (session, _) => await ReattachAsync(session));
            }
            catch (OperationCanceledException)
            {
                return;
            }
            SessionsRefreshed?.Invoke();
        }
    }

    private const int RefreshParallelism = 16;

    /// <summary>
    /// Re-asserts <paramref name="session"/> to its grain. A session that ended here while the call was out (its
    /// Disconnect may have reached the grain first) is ended at the grain again, or the grain would keep it: Connected,
    /// and never collected, for a connection that is gone.
    /// </summary>
    internal async Task ReattachAsync(MqttDeviceSession session)
    {
        try
        {
            var access = await session.Grain.Reattach(session.ToDeviceSession(_observerReference.Value));
            Volatile.Write(ref session.LastGrainCall, _clock.GetTimestamp());
            if (!IsCurrent(session))
            {
                await session.Grain.Disconnect(session.SessionId);
            }
            else if (access != DeviceAccess.Granted)
            {
                LogSessionRefused(_logger, session.DeviceId, access);
                session.Channel.Abort($"the device grain answered {access}");
            }
        }
        catch (Exception exception)
        {
            // During a failover every quiet session of the lost silo's devices fails so until the cluster has declared it
            // dead: a warning with a stack each would flood the log, and the next pass asks again.
            LogRefreshFailed(_logger, session.DeviceId, exception.GetType().Name, exception.Message);
        }
    }

    /// <summary>
    /// Outermost on the MQTT endpoint, before TLS: the connection limit, then the connect deadline for the rest of
    /// the pipeline (TLS handshake and first packet).
    /// </summary>
    internal async Task AdmitAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        if (Interlocked.Increment(ref _open) > _options.MaxConnections)
        {
            Interlocked.Decrement(ref _open);
            WarnLimit();
            connection.Abort(new ConnectionAbortedException("MQTT connection limit"));
            return;
        }
        try
        {
            // Kestrel's stop asks each connection to close, then waits for all of them until the host's stop bound. An MQTT
            // connection never ends by itself, so each stop waited out the whole bound (ShutdownTimeoutSeconds), and the
            // silo, stopped after Kestrel, then had no time left: its presence writer's last flush was skipped, and every
            // device's activity since the last periodic write was lost (hostile review, 2026-12-06). Closed on the request,
            // the session ends at its grain while the silo is still up.
            using var closeOnStop = connection.Features.Get<IConnectionLifetimeNotificationFeature>()?.ConnectionClosedRequested.Register(
                static state => ((ConnectionContext)state!).Abort(new ConnectionAbortedException("the server is stopping")), connection);
            using var deadline = new ConnectDeadline(connection, _clock, _options.ConnectTimeout,
                c => LogConnectTimeout(_logger, c.RemoteEndPoint?.ToString(), _options.ConnectTimeout.TotalSeconds));
            connection.Features.Set(deadline);
            Admitted?.Invoke();
            await next(connection);
        }
        finally
        {
            Interlocked.Decrement(ref _open);
        }
    }

    /// <summary>After TLS: hands the connection to MQTTnet and, once MQTTnet is done with it, ends its device session.</summary>
    internal async Task OnConnectedAsync(ConnectionContext connection)
    {
        var handler = ((IMqttServerAdapter)this).ClientHandler;
        if (handler is null)
        {
            return; // not started, or stopping
        }
        using var channel = new EdgeChannel(connection, new MqttPacketFormatterAdapter(new MqttBufferWriter(WriterBufferBytes, 64 * 1024)), this);
        try
        {
            await handler(channel);
        }
        finally
        {
            channel.EndAdmissionTurn();
            if (channel.Session is { } session)
            {
                await EndSessionAsync(session);
            }
        }
    }

    private async Task OnConnectAsync(ValidatingConnectionEventArgs e)
    {
        var deviceId = e.ClientId;
        if (e.ChannelAdapter is not EdgeChannel channel)
        {
            e.ReasonCode = MqttConnectReasonCode.NotAuthorized;
            return;
        }
        if (e.ProtocolVersion != MqttProtocolVersion.V311)
        {
            Refuse(e, MqttConnectReasonCode.UnsupportedProtocolVersion, "only MQTT 3.1.1 is served");
            return;
        }
        if (string.IsNullOrEmpty(deviceId) || deviceId.Contains('/') || !DeviceValidation.IsValidDeviceId(deviceId))
        {
            // "dev/mod" is a module: the registry has none.
            Refuse(e, MqttConnectReasonCode.NotAuthorized, "the client id is not a device id");
            return;
        }
        if (!MqttUserName.Names(e.UserName, _access.HostName, deviceId))
        {
            Refuse(e, MqttConnectReasonCode.NotAuthorized, "the username is not {HostName}/{client id}/?api-version=…");
            return;
        }
        string? keyFingerprint = null;
        long? expiresOn = null;
        string? policyToken = null;
        if (_access.Enabled)
        {
            AccessDecision decision;
            try
            {
                decision = await _authorizer.AuthorizeAsync(e.Password, deviceId, "/devices/" + deviceId);
            }
            catch (Exception exception)
            {
                // The device lookup failed (no silo reachable, a timeout): CONNACK 3, which the SDKs retry, as for the
                // device grain's own answer below. Unanswered, MQTTnet would only drop the connection.
                LogConnectFailed(_logger, exception, deviceId);
                e.ReasonCode = MqttConnectReasonCode.ServerUnavailable;
                return;
            }
            if (!decision.IsGranted)
            {
                Refuse(e, MqttConnectReasonCode.NotAuthorized, decision.Reason);
                return;
            }
            keyFingerprint = decision.KeyFingerprint;
            expiresOn = decision.ExpiresOn;
            policyToken = SharedAccessSignature.TryParse(e.Password, out var sas) && sas.KeyName is not null ? e.Password : null;
        }
        // IoT Hub answers a throttled connection as unavailable (CONNACK 3): the SDKs retry it. Counted once authenticated,
        // as HTTPS counts: a CONNECT that authentication refuses spends nothing (hostile review, 2026-12-05).
        if (!_throttle.TryAcquire(OperationClass.DeviceConnections).IsAcquired)
        {
            Refuse(e, MqttConnectReasonCode.ServerUnavailable, "DeviceConnections throttle");
            return;
        }

        var turn = await TakeAdmissionTurnAsync(deviceId, channel);
        try
        {
            var session = new MqttDeviceSession(deviceId, Guid.NewGuid(), keyFingerprint, _grains.GetGrain<IDeviceGrain>(deviceId), channel)
            {
                PolicyToken = policyToken,
            };
            DeviceAccess access;
            try
            {
                access = await session.Grain.Connect(session.ToDeviceSession(_observerReference.Value));
            }
            catch (Exception exception)
            {
                LogConnectFailed(_logger, exception, deviceId);
                e.ReasonCode = MqttConnectReasonCode.ServerUnavailable;
                return;
            }
            if (access != DeviceAccess.Granted)
            {
                Refuse(e, MqttConnectReasonCode.NotAuthorized, access.ToString());
                return;
            }
            turn.Granted = true;
            session.LastGrainCall = _clock.GetTimestamp();
            if (RegisteringSession is { } registering)
            {
                await registering(deviceId);
            }
            channel.Session = session;
            MqttDeviceSession? replaced = null;
            _sessions.AddOrUpdate(deviceId, session, (_, previous) =>
            {
                replaced = previous;
                return session;
            });
            // A newer connection replaces the older one, as IoT Hub does: on this edge MQTTnet's own takeover by client id
            // closes it; the grain tells the edge of an older connection elsewhere.
            if (replaced is not null && replaced.SessionId != session.SessionId)
            {
                LogSessionClosed(_logger, deviceId, SessionCloseReason.Replaced);
            }
            if (expiresOn is { } se)
            {
                ArmExpiry(session, SharedAccessSignature.ExpiryOf(se));
            }
        }
        catch
        {
            channel.EndAdmissionTurn();
            throw;
        }
    }

    /// <summary>
    /// The CONNECTs of one device at this edge take turns, each from its call to the device grain until MQTTnet has made
    /// its connection the device's (its CONNACK sent) or the connection ended: so the grain, this edge's sessions and MQTTnet's
    /// takeover by client id see them in one order, and the connection left open is the grain's session. Concurrently,
    /// the grain could grant A then B while this edge registered B then A and MQTTnet kept A: a connection its grain did
    /// not know, which a delete, disable or re-key acknowledged since did not close until the next session refresh
    /// (hostile review, 2026-12-07: still open 28 s after a delete).
    /// </summary>
    private async Task<AdmissionTurn> TakeAdmissionTurnAsync(string deviceId, EdgeChannel channel)
    {
        AdmissionTurn turn;
        while (true)
        {
            turn = _admitting.GetOrAdd(deviceId, static _ => new AdmissionTurn());
            lock (turn)
            {
                if (turn.Holders > 0 || _admitting.TryGetValue(deviceId, out var current) && current == turn)
                {
                    turn.Holders++;
                    break;
                }
            }
        }
        if (turn.Turn.CurrentCount == 0)
        {
            AdmissionQueued?.Invoke(deviceId);
        }
        await turn.Turn.WaitAsync();
        turn.Granted = false;
        channel.HoldAdmissionTurn(() => LeaveAdmission(deviceId, turn));
        return turn;
    }

    private void LeaveAdmission(string deviceId, AdmissionTurn turn)
    {
        turn.Granted = false;
        turn.Turn.Release();
        lock (turn)
        {
            if (--turn.Holders == 0)
            {
                _admitting.TryRemove(KeyValuePair.Create(deviceId, turn));
            }
        }
    }

    /// <summary>The CONNECTs of one device admitting or waiting at this edge, one turn at a time.</summary>
    private sealed class AdmissionTurn
    {
        public readonly SemaphoreSlim Turn = new(1, 1);

        /// <summary>CONNECTs holding or waiting for the turn (under the object's lock).</summary>
        public int Holders;

        /// <summary>The CONNECT holding the turn was granted by its device grain: MQTTnet will make it the device's connection.</summary>
        public volatile bool Granted;
    }

    private void Refuse(ValidatingConnectionEventArgs e, MqttConnectReasonCode code, string reason)
    {
        LogConnectRefused(_logger, e.ClientId, code, reason);
        e.ReasonCode = code;
    }

    private Task OnPublishAsync(InterceptingPublishEventArgs e)
    {
        // Nothing is forwarded to subscribers: the registry counts messages, it routes none. MQTTnet still PUBACKs.
        e.ProcessPublish = false;
        if (!_sessions.TryGetValue(e.ClientId, out var session))
        {
            e.CloseConnection = true;
            return Task.CompletedTask;
        }
        if (session.Channel.ReceiveEnded)
        {
            // The connection's will message, which MQTTnet publishes for a device whose connection dropped: the device
            // did not send it, so it is no heartbeat and no activity. Counted, it announced a device that had just died as
            // recovered and restarted its deadline from its death (hostile review, 2026-12-07).
            WillIgnored?.Invoke(session.DeviceId);
            return Task.CompletedTask;
        }
        if (PublishRefusal(e.ApplicationMessage, session.DeviceId) is { } refusal)
        {
            LogPublishRefused(_logger, session.DeviceId, refusal);
            e.CloseConnection = true;
            return Task.CompletedTask;
        }
        return RecordAsync(e, session);
    }

    private static string? PublishRefusal(MqttApplicationMessage message, string deviceId)
    {
        if (message.QualityOfServiceLevel is not (MqttQualityOfServiceLevel.AtMostOnce or MqttQualityOfServiceLevel.AtLeastOnce))
        {
            return $"QoS {(int)message.QualityOfServiceLevel} (IoT Hub serves 0 and 1)";
        }
        if (message.Payload.Length > MqttLimits.MaxPayloadBytes)
        {
            return $"a body of {message.Payload.Length} bytes, over {MqttLimits.MaxPayloadBytes}";
        }
        return DeviceTopics.ClassifyPublish(message.Topic, deviceId) switch
        {
            // The body with its properties, as HTTPS and IoT Hub count a message; measured only when the topic could matter.
            PublishTopic.Telemetry when message.Payload.Length + 3L * message.Topic.Length > MqttLimits.MaxPayloadBytes
                && message.Payload.Length + DeviceTopics.PropertyBytes(message.Topic) is var size && size > MqttLimits.MaxPayloadBytes
                => $"a message of {size} bytes with its properties, over {MqttLimits.MaxPayloadBytes}",
            PublishTopic.Telemetry => null,
            PublishTopic.OtherDevice => "a topic of another device",
            PublishTopic.BadPropertyBag => $"a property bag that does not parse or holds more than {MqttLimits.MaxProperties} properties",
            _ => "a topic the registry does not serve",
        };
    }

    /// <summary>One message on the device grain, in memory there: the PUBACK means the registry counted it.</summary>
    private async Task RecordAsync(InterceptingPublishEventArgs e, MqttDeviceSession session)
    {
        if (!await WaitForBudgetAsync(OperationClass.DeviceToCloudSends))
        {
            LogPublishRefused(_logger, session.DeviceId, "DeviceToCloudSends throttle");
            e.CloseConnection = true;
            return;
        }
        try
        {
            var access = await MessageAsync(session, 1);
            if (access != DeviceAccess.Granted)
            {
                LogSessionRefused(_logger, session.DeviceId, access);
                e.CloseConnection = true;
            }
        }
        catch (Exception exception)
        {
            // No PUBACK without a count: the device resends after it reconnects.
            LogGrainCallFailed(_logger, exception, session.DeviceId);
            e.CloseConnection = true;
        }
    }

    /// <summary>
    /// A PINGREQ is activity (IoT Hub's lastActivityTime; the connection stays Connected), not a message: no throttle,
    /// no heartbeat. One grain call per keep-alive period (180 s for the SDKs). A refusal closes the connection, so a
    /// revocation whose close was lost still lands by the next ping.
    /// </summary>
    internal async Task OnPingAsync(MqttDeviceSession session)
    {
        try
        {
            var access = await MessageAsync(session, 0);
            if (access != DeviceAccess.Granted)
            {
                LogSessionRefused(_logger, session.DeviceId, access);
                session.Channel.Abort($"the device grain answered {access}");
            }
        }
        catch (Exception exception)
        {
            LogGrainCallFailed(_logger, exception, session.DeviceId);
        }
    }

    /// <summary>
    /// <see cref="IDeviceGrain.Message"/>; a grain re-activated since the CONNECT (SessionUnknown) is told of the
    /// session again, with the same id and key, and asked once more.
    /// </summary>
    internal async Task<DeviceAccess> MessageAsync(MqttDeviceSession session, int messages)
    {
        var access = await session.Grain.Message(session.Messages(messages));
        Volatile.Write(ref session.LastGrainCall, _clock.GetTimestamp());
        if (access != DeviceAccess.SessionUnknown)
        {
            return access;
        }
        access = await session.Grain.Connect(session.ToDeviceSession(_observerReference.Value));
        if (access == DeviceAccess.Granted && !IsCurrent(session))
        {
            // The connection ended while the session was told again (its Disconnect may have reached the grain first):
            // ended at the grain again, as a late refresh is (ReattachAsync).
            await session.Grain.Disconnect(session.SessionId);
            return DeviceAccess.SessionUnknown;
        }
        return access == DeviceAccess.Granted ? await session.Grain.Message(session.Messages(messages)) : access;
    }

    private async ValueTask<bool> WaitForBudgetAsync(OperationClass operation)
    {
        var waited = TimeSpan.Zero;
        while (true)
        {
            var decision = _throttle.TryAcquire(operation);
            if (decision.IsAcquired)
            {
                return true;
            }
            if (waited + decision.RetryAfter > MaxThrottleWait)
            {
                return false;
            }
            await Task.Delay(decision.RetryAfter, _clock);
            waited += decision.RetryAfter;
        }
    }

    private Task OnSubscribeAsync(InterceptingSubscriptionEventArgs e)
    {
        // Accepted or refused, nothing is stored: no one ever publishes to a device here.
        e.ProcessSubscription = false;
        var filter = e.TopicFilter.Topic;
        if ((int)e.TopicFilter.QualityOfServiceLevel > 2)
        {
            // QoS 3 is no QoS: a malformed SUBSCRIBE (3.1.1 §3.8.3), which closes the connection.
            e.CloseConnection = true;
            return Task.CompletedTask;
        }
        if (!_sessions.TryGetValue(e.ClientId, out var session) || !DeviceTopics.IsSilentSubscription(filter, session.DeviceId))
        {
            LogSubscriptionRefused(_logger, e.ClientId, filter);
            e.Response.ReasonCode = MqttSubscribeReasonCode.UnspecifiedError;
        }
        else if (e.TopicFilter.QualityOfServiceLevel == MqttQualityOfServiceLevel.ExactlyOnce)
        {
            // IoT Hub serves QoS 0 and 1 only: a QoS 2 subscription is granted at QoS 1, as IoT Hub grants it.
            e.Response.ReasonCode = MqttSubscribeReasonCode.GrantedQoS1;
        }
        return Task.CompletedTask;
    }

    /// <summary>The device grain asked (through <see cref="MqttSessionObserver"/>) to close a session it no longer accepts.</summary>
    internal void Close(string deviceId, Guid sessionId, SessionCloseReason reason)
    {
        CloseOrdered?.Invoke(deviceId);
        if (reason == SessionCloseReason.Replaced && _admitting.TryGetValue(deviceId, out var turn) && turn.Granted)
        {
            return; // the newer connection is being admitted here: MQTTnet's takeover closes this one
        }
        if (_sessions.TryGetValue(deviceId, out var session) && session.SessionId == sessionId)
        {
            LogSessionClosed(_logger, deviceId, reason);
            SessionAborted?.Invoke(deviceId, reason);
            session.Channel.Abort($"the registry closed the session: {reason}");
        }
    }

    /// <summary>Longest a session's expiry timer is set for at once (a timer takes at most ~49 days); it is set again then.</summary>
    private static readonly TimeSpan MaxExpiryWait = TimeSpan.FromDays(30);

    /// <summary>
    /// IoT Hub ends a device's MQTT connection when the SAS token it connected with expires, which is why the SDKs renew
    /// their tokens by reconnecting: the session ends at <paramref name="expiry"/>, the moment this edge would refuse the
    /// token (its <c>se</c> plus IoT Hub's 5-minute clock skew), however long it has been open.
    /// </summary>
    private void ArmExpiry(MqttDeviceSession session, DateTimeOffset expiry)
    {
        if (!IsCurrent(session))
        {
            return; // ended (or replaced) meanwhile
        }
        var wait = expiry - _clock.GetUtcNow();
        if (wait <= TimeSpan.Zero)
        {
            LogSessionClosed(_logger, session.DeviceId, SessionCloseReason.TokenExpired);
            SessionAborted?.Invoke(session.DeviceId, SessionCloseReason.TokenExpired);
            session.Channel.Abort("the SAS token of the session expired");
            return;
        }
        var timer = _clock.CreateTimer(_ => ArmExpiry(session, expiry), null, wait < MaxExpiryWait ? wait : MaxExpiryWait, Timeout.InfiniteTimeSpan);
        Interlocked.Exchange(ref session.Expiry, timer)?.Dispose();
        if (!IsCurrent(session))
        {
            timer.Dispose(); // ended while the timer was being set: EndSessionAsync may have disposed the one before
        }
    }

    /// <summary>
    /// The policies changed (a key regenerated, a policy removed, read by the cluster's refresh): every session connected
    /// with a policy's token is authorized again, as its next HTTPS request would be, and closed if refused. Before, such
    /// a session outlived its policy's regeneration for as long as it stayed connected (hostile review, 2026-12-05). A
    /// check that cannot be made now (the device cannot be read) leaves the session open.
    /// </summary>
    private async Task RecheckPolicySessionsAsync()
    {
        try
        {
            foreach (var session in _sessions.Values)
            {
                if (session.PolicyToken is not { } token)
                {
                    continue;
                }
                AccessDecision decision;
                try
                {
                    decision = await _authorizer.AuthorizeAsync(token, session.DeviceId, "/devices/" + session.DeviceId);
                }
                catch (Exception exception)
                {
                    LogGrainCallFailed(_logger, exception, session.DeviceId);
                    continue;
                }
                if (!decision.IsGranted && IsCurrent(session))
                {
                    LogSessionClosed(_logger, session.DeviceId, SessionCloseReason.PolicyRevoked);
                    SessionAborted?.Invoke(session.DeviceId, SessionCloseReason.PolicyRevoked);
                    session.Channel.Abort("the shared access policy of the session's token no longer grants it");
                }
            }
        }
        finally
        {
            PolicySessionsRechecked?.Invoke();
        }
    }

    /// <summary>For tests: the session this edge holds for <paramref name="deviceId"/>, if any.</summary>
    internal MqttDeviceSession? SessionOf(string deviceId) => _sessions.GetValueOrDefault(deviceId);

    private bool IsCurrent(MqttDeviceSession session) =>
        _sessions.TryGetValue(session.DeviceId, out var current) && current.SessionId == session.SessionId;

    private async Task EndSessionAsync(MqttDeviceSession session)
    {
        // Only this connection's own entry goes: a newer connection of the same device keeps its place.
        _sessions.TryRemove(new KeyValuePair<string, MqttDeviceSession>(session.DeviceId, session));
        Interlocked.Exchange(ref session.Expiry, null)?.Dispose();
        try
        {
            await session.Grain.Disconnect(session.SessionId);
        }
        catch (Exception exception)
        {
            LogGrainCallFailed(_logger, exception, session.DeviceId);
        }
        SessionEnded?.Invoke(session.DeviceId);
    }

    private void WarnLimit()
    {
        // At most one line a minute: a flood of connections must not become a flood of log lines.
        var now = _clock.GetTimestamp();
        var last = Interlocked.Read(ref _lastLimitWarning);
        if ((last == long.MinValue || _clock.GetElapsedTime(last, now) >= TimeSpan.FromMinutes(1))
            && Interlocked.CompareExchange(ref _lastLimitWarning, now, last) == last)
        {
            LogConnectionLimit(_logger, _options.MaxConnections);
        }
    }

    [LoggerMessage(EventId = 1150, Level = LogLevel.Debug, Message = "MQTT CONNECT of {ClientId} refused with {Code}: {Reason}")]
    private static partial void LogConnectRefused(ILogger logger, string clientId, MqttConnectReasonCode code, string reason);

    [LoggerMessage(EventId = 1151, Level = LogLevel.Warning, Message = "MQTT CONNECT of {DeviceId} answered ServerUnavailable: the device grain call failed")]
    private static partial void LogConnectFailed(ILogger logger, Exception exception, string deviceId);

    [LoggerMessage(EventId = 1152, Level = LogLevel.Debug, Message = "MQTT publish of {DeviceId} refused, connection closed: {Reason}")]
    private static partial void LogPublishRefused(ILogger logger, string deviceId, string reason);

    [LoggerMessage(EventId = 1153, Level = LogLevel.Information, Message = "MQTT session of {DeviceId} closed: {Reason}")]
    private static partial void LogSessionClosed(ILogger logger, string deviceId, SessionCloseReason reason);

    [LoggerMessage(EventId = 1154, Level = LogLevel.Information, Message = "MQTT session of {DeviceId} closed: the device grain answered {Access}")]
    private static partial void LogSessionRefused(ILogger logger, string deviceId, DeviceAccess access);

    [LoggerMessage(EventId = 1155, Level = LogLevel.Warning, Message = "A device grain call of the MQTT session of {DeviceId} failed")]
    private static partial void LogGrainCallFailed(ILogger logger, Exception exception, string deviceId);

    [LoggerMessage(EventId = 1156, Level = LogLevel.Debug, Message = "MQTT subscription of {ClientId} to {Filter} refused: not a device topic the registry accepts")]
    private static partial void LogSubscriptionRefused(ILogger logger, string clientId, string filter);

    [LoggerMessage(EventId = 1157, Level = LogLevel.Debug, Message = "MQTT connection from {RemoteEndPoint} closed: no TLS handshake and CONNECT within {Seconds} s")]
    private static partial void LogConnectTimeout(ILogger logger, string? remoteEndPoint, double seconds);

    [LoggerMessage(EventId = 1159, Level = LogLevel.Debug, Message = "Re-asserting the MQTT session of {DeviceId} to its device grain failed ({Error}: {Reason}); asked again at the next refresh")]
    private static partial void LogRefreshFailed(ILogger logger, string deviceId, string error, string reason);

    [LoggerMessage(EventId = 1158, Level = LogLevel.Warning, Message = "MQTT connection limit {Limit} reached (Registry:MqttMaxConnections): new connections are closed at accept")]
    private static partial void LogConnectionLimit(ILogger logger, int limit);
}
