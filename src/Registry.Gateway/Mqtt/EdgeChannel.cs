using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Connections;
using MQTTnet.Adapter;
using MQTTnet.AspNetCore;
using MQTTnet.Exceptions;
using MQTTnet.Formatter;
using MQTTnet.Packets;
using MQTTnet.Protocol;

namespace Registry.Gateway.Mqtt;

/// <summary>
/// One device connection as MQTTnet's broker sees it, over the TLS stream Kestrel accepted. It is MQTTnet's own
/// pipe reading (<see cref="ReaderExtensions.TryDecode"/>) plus what the broker lacks: a fixed header declaring more
/// than <see cref="MqttLimits.MaxPacketBytes"/> closes the connection before its body is buffered; the first packet
/// ends the connect deadline; a PINGREQ is reported as activity before it is answered; and the edge can close exactly this connection
/// (<see cref="Abort"/>), whatever MQTTnet's client-id bookkeeping says.
/// </summary>
internal sealed class EdgeChannel : IMqttChannelAdapter
{
    private readonly ConnectionContext _connection;
    private readonly ConnectDeadline? _deadline;
    private readonly MqttDeviceEdge _edge;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly Dictionary<ushort, int[]> _subAckOrders = [];
    private bool _receivedFirst;

    public EdgeChannel(ConnectionContext connection, MqttPacketFormatterAdapter formatter, MqttDeviceEdge edge)
    {
        _connection = connection;
        _deadline = connection.Features.Get<ConnectDeadline>();
        _edge = edge;
        _input = connection.Transport.Input;
        _output = connection.Transport.Output;
        PacketFormatterAdapter = formatter;
    }

    /// <summary>The device session this connection opened, once its CONNECT was granted.</summary>
    public MqttDeviceSession? Session { get; set; }

    private Action? _endAdmissionTurn;

    /// <summary>This connection holds its device's admission turn at the edge until its CONNACK is sent or it ends.</summary>
    public void HoldAdmissionTurn(Action end) => _endAdmissionTurn = end;

    /// <summary>Hands the device's admission turn on, once.</summary>
    public void EndAdmissionTurn() => Interlocked.Exchange(ref _endAdmissionTurn, null)?.Invoke();

    public long BytesReceived { get; private set; }

    public long BytesSent { get; private set; }

    public X509Certificate2? ClientCertificate => null;

    public EndPoint? RemoteEndPoint => _connection.RemoteEndPoint;

    public EndPoint? LocalEndPoint => _connection.LocalEndPoint;

    public bool IsSecureConnection => true;

    public MqttPacketFormatterAdapter PacketFormatterAdapter { get; }

    /// <summary>Closes this connection now, from any thread; MQTTnet's receive loop ends and the session with it.</summary>
    public void Abort(string reason) => _connection.Abort(new ConnectionAbortedException(reason));

    public Task ConnectAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>A graceful close: what was written (a refusing CONNACK) still reaches the device.</summary>
    public Task DisconnectAsync(CancellationToken cancellationToken)
    {
        _input.Complete();
        _output.Complete();
        return Task.CompletedTask;
    }

    public async Task<MqttPacket?> ReceivePacketAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var result = await _input.ReadAsync(cancellationToken).ConfigureAwait(false);
                var buffer = result.Buffer;
                var consumed = buffer.Start;
                var observed = buffer.Start;
                try
                {
                    if (!buffer.IsEmpty)
                    {
                        // The reader always starts at a packet boundary: only whole packets are consumed.
                        if (DeclaredPacketLength(buffer) > MqttLimits.MaxPacketBytes)
                        {
                            throw new MqttProtocolViolationException($"a packet over {MqttLimits.MaxPacketBytes} bytes");
                        }
                        if (FlagsViolation(buffer.FirstSpan[0]) is { } malformed)
                        {
                            throw new MqttProtocolViolationException(malformed);
                        }
                        if (!_receivedFirst && UnacceptableProtocolLevel(buffer))
                        {
                            await RefuseProtocolLevelAsync(cancellationToken).ConfigureAwait(false);
                        }
                        if (PacketFormatterAdapter.TryDecode(buffer, out var packet, out consumed, out observed, out var received))
                        {
                            BytesReceived += received;
                            await OnReceivedAsync(packet).ConfigureAwait(false);
                            return packet;
                        }
                    }
                    else if (result.IsCompleted)
                    {
                        throw new MqttCommunicationException("Connection closed");
                    }
                    if (result.IsCompleted)
                    {
                        throw new MqttCommunicationException("Connection closed inside a packet");
                    }
                }
                finally
                {
                    _input.AdvanceTo(consumed, observed);
                }
            }
        }
        catch (Exception e)
        {
            // Nothing more is read after a protocol error.
            ReceiveEnded = true;
            _input.Complete(e);
            _output.Complete(e);
            throw;
        }
        ReceiveEnded = true;
        cancellationToken.ThrowIfCancellationRequested();
        return null;
    }

    private volatile bool _receiveEnded;

    /// <summary>
    /// Nothing more comes from the device on this connection: what MQTTnet publishes for it from now on is its will
    /// message, sent on its behalf after the connection dropped (MQTTnet dispatches it once its receive loop has ended).
    /// </summary>
    public bool ReceiveEnded
    {
        get => _receiveEnded;
        private set => _receiveEnded = value;
    }

    /// <summary>
    /// The fixed header's flags 3.1.1 fixes (§2.2.2): SUBSCRIBE, UNSUBSCRIBE and PUBREL carry 0010, a PUBLISH at QoS 0 no
    /// DUP ([MQTT-3.3.1-2]), every other packet 0000; anything else is malformed and closes the connection. MQTTnet's
    /// decoder ignores them: a SUBSCRIBE with flags 0 was granted and a QoS 0 PUBLISH with DUP counted (hostile review,
    /// 2026-12-07).
    /// </summary>
    private static string? FlagsViolation(byte first)
    {
        var type = first >> 4;
        var flags = first & 0x0F;
        return type switch
        {
            3 when (flags & 0x06) == 0 && (flags & 0x08) != 0 => "a QoS 0 PUBLISH with DUP set",
            3 => null, // DUP, QoS and RETAIN: QoS is checked where it is read
            6 or 8 or 10 when flags != 0x02 => $"a packet of type {type} whose fixed-header flags are not 0010",
            6 or 8 or 10 => null,
            _ when flags != 0 => $"a packet of type {type} with reserved fixed-header flags set",
            _ => null,
        };
    }

    private Task OnReceivedAsync(MqttPacket packet)
    {
        // MQTT 3.1.1 §2.3.1: these carry a non-zero packet identifier; with 0 the packet is malformed and the connection
        // closes (a QoS 1 PUBLISH with 0 was counted and never acknowledged, hostile review 2026-12-05).
        if (packet is MqttPublishPacket { QualityOfServiceLevel: > MqttQualityOfServiceLevel.AtMostOnce, PacketIdentifier: 0 }
            or MqttSubscribePacket { PacketIdentifier: 0 } or MqttUnsubscribePacket { PacketIdentifier: 0 } or MqttPubAckPacket { PacketIdentifier: 0 })
        {
            throw new MqttProtocolViolationException($"a {packet.GetType().Name.Replace("Mqtt", "", StringComparison.Ordinal)} with packet identifier 0");
        }
        // PUBREC, PUBREL and PUBCOMP belong only to QoS 2 flows, which the registry neither starts nor accepts: from a
        // device they are out of protocol whatever their identifier (a PUBREL was answered with PUBCOMP; same re-check).
        if (packet is MqttPubRecPacket or MqttPubRelPacket or MqttPubCompPacket)
        {
            throw new MqttProtocolViolationException($"a {packet.GetType().Name.Replace("Mqtt", "", StringComparison.Ordinal)} outside any QoS 2 flow");
        }
        if (!_receivedFirst)
        {
            _receivedFirst = true;
            _deadline?.Complete();
        }
        if (packet is MqttSubscribePacket subscribe && SubAckOrder(subscribe.TopicFilters) is { } order)
        {
            lock (_subAckOrders)
            {
                _subAckOrders[subscribe.PacketIdentifier] = order;
            }
        }
        // Before MQTTnet answers PINGRESP: like a PUBACK, it then means the registry counted the activity.
        return packet is MqttPingReqPacket && Session is { } session ? _edge.OnPingAsync(session) : Task.CompletedTask;
    }

    /// <summary>CONNACK 0x01, unacceptable protocol level: what 3.1.1 (§3.1.2.2) answers before it closes.</summary>
    private static readonly byte[] UnacceptableProtocolLevelConnAck = [0x20, 0x02, 0x00, 0x01];

    /// <summary>
    /// Whether <paramref name="buffer"/> starts with a CONNECT naming MQTT at a protocol level that is neither 3.1.1 (4)
    /// nor 5, or MQIsdp at a level other than 3 (3.1). MQTTnet's decoder fails on those before the edge sees a CONNECT,
    /// so the connection was closed without the CONNACK 1 that 3.1.1 requires. MQTT 5 and 3.1 decode, and are refused by
    /// the edge with their own CONNACKs.
    /// </summary>
    internal static bool UnacceptableProtocolLevel(ReadOnlySequence<byte> buffer)
    {
        var reader = new SequenceReader<byte>(buffer);
        if (!reader.TryRead(out var type) || type != 0x10)
        {
            return false;
        }
        for (var i = 0; i < 4; i++) // the remaining length (its length is all that matters here)
        {
            if (!reader.TryRead(out var b))
            {
                return false;
            }
            if ((b & 0x80) == 0)
            {
                break;
            }
        }
        if (!reader.TryReadBigEndian(out short nameLength) || nameLength is < 0 or > 6 || reader.Remaining < nameLength + 1)
        {
            return false;
        }
        Span<byte> name = stackalloc byte[nameLength];
        reader.TryCopyTo(name);
        reader.Advance(nameLength);
        reader.TryRead(out var level);
        return (name.SequenceEqual("MQTT"u8) && level is not (4 or 5)) || (name.SequenceEqual("MQIsdp"u8) && level != 3);
    }

    private async Task RefuseProtocolLevelAsync(CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _output.WriteAsync(UnacceptableProtocolLevelConnAck, cancellationToken).ConfigureAwait(false);
            BytesSent += UnacceptableProtocolLevelConnAck.Length;
        }
        finally
        {
            _writeLock.Release();
        }
        // Completed without an error first: the CONNACK is flushed before the connection closes.
        _output.Complete();
        throw new MqttProtocolViolationException("a CONNECT at a protocol level other than 3.1.1");
    }

    /// <summary>
    /// The packet length the fixed header at the start of <paramref name="buffer"/> declares (header included), or 0
    /// while the header is incomplete. A remaining length of more than four bytes is malformed.
    /// </summary>
    internal static long DeclaredPacketLength(ReadOnlySequence<byte> buffer)
    {
        var reader = new SequenceReader<byte>(buffer);
        if (!reader.TryRead(out _))
        {
            return 0;
        }
        long length = 0;
        for (var i = 0; i < 4; i++)
        {
            if (!reader.TryRead(out var b))
            {
                return 0;
            }
            length |= (long)(b & 0x7F) << (7 * i);
            if ((b & 0x80) == 0)
            {
                return length + 2 + i;
            }
        }
        throw new MqttProtocolViolationException("a remaining length of more than four bytes");
    }

    public void ResetStatistics()
    {
        BytesReceived = 0;
        BytesSent = 0;
    }

    /// <summary>
    /// Where MQTTnet's broker puts each filter's SUBACK code, or null where it keeps the filters' order. The broker asks
    /// about the filters in descending QoS (a stable sort) and answers in that order, where MQTT (3.1.1 §3.9.3, 5.0
    /// §3.9.3) requires the SUBSCRIBE's order: <c>order[k]</c> is the filter the broker's k-th code belongs to.
    /// </summary>
    internal static int[]? SubAckOrder(IReadOnlyList<MqttTopicFilter> filters)
    {
        for (var i = 1; i < filters.Count; i++)
        {
            if (filters[i].QualityOfServiceLevel > filters[i - 1].QualityOfServiceLevel)
            {
                return Enumerable.Range(0, filters.Count).OrderByDescending(f => filters[f].QualityOfServiceLevel).ToArray();
            }
        }
        return null; // already in descending QoS: the broker's order is the SUBSCRIBE's
    }

    /// <summary>Puts a SUBACK's codes back in its SUBSCRIBE's filter order (see <see cref="SubAckOrder"/>).</summary>
    private void RestoreSubAckOrder(MqttSubAckPacket subAck)
    {
        int[]? order;
        lock (_subAckOrders)
        {
            if (_subAckOrders.Count == 0 || !_subAckOrders.Remove(subAck.PacketIdentifier, out order))
            {
                return;
            }
        }
        var codes = subAck.ReasonCodes;
        if (codes is null || codes.Count != order.Length)
        {
            return;
        }
        var restored = new MqttSubscribeReasonCode[order.Length];
        for (var k = 0; k < order.Length; k++)
        {
            restored[order[k]] = codes[k];
        }
        codes.Clear();
        codes.AddRange(restored);
    }

    public async Task SendPacketAsync(MqttPacket packet, CancellationToken cancellationToken)
    {
        if (packet is MqttSubAckPacket subAck)
        {
            RestoreSubAckOrder(subAck);
        }
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var buffer = PacketFormatterAdapter.Encode(packet);
            var span = _output.GetSpan(buffer.Length);
            buffer.Packet.AsSpan().CopyTo(span);
            buffer.Payload.CopyTo(span[buffer.Packet.Count..]);
            _output.Advance(buffer.Length);
            await _output.FlushAsync(cancellationToken).ConfigureAwait(false);
            BytesSent += buffer.Length;
        }
        finally
        {
            PacketFormatterAdapter.Cleanup();
            _writeLock.Release();
            if (packet is MqttConnAckPacket)
            {
                // MQTTnet sends a granted CONNACK once the connection is the device's (an older one taken over).
                EndAdmissionTurn();
            }
        }
    }

    public void Dispose() => _writeLock.Dispose();
}
