using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace WalrusGossip.Transport;

/// <summary>
/// The UDP socket that carries SWIM probes, acks and piggybacked updates. Sending never throws for network
/// reasons and the receive loop never stops for one bad datagram: every failure is logged and counted in
/// <see cref="TransportCounters"/> (<see cref="TransportCounters.GossipErrors"/>, <see cref="TransportCounters.DatagramsDropped"/>).
/// </summary>
public sealed partial class UdpGossipSocket : IAsyncDisposable
{
    /// <summary>Largest datagram sent or received, in bytes: the IPv4 UDP payload limit, below 64 KiB.</summary>
    public const int MaxDatagramBytes = 65_507;

    private const int MaxCachedAddresses = 1024;

    private readonly Socket _socket;
    private readonly TransportCounters _counters;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, IPEndPoint> _resolved = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private Task? _receiveLoop;
    private int _disposed;

    private UdpGossipSocket(Socket socket, TransportCounters counters, ILogger logger)
    {
        _socket = socket;
        _counters = counters;
        _logger = logger;
        LocalEndPoint = (IPEndPoint)socket.LocalEndPoint!;
    }

    /// <summary>The bound address, with the actual port when 0 was requested.</summary>
    public IPEndPoint LocalEndPoint { get; }

    /// <summary>Binds a UDP socket.</summary>
    /// <param name="endPoint">Address and port; port 0 picks a free port.</param>
    /// <param name="counters">Where datagrams and errors are counted (normally the transport's).</param>
    /// <param name="logger">Logger for send and receive failures.</param>
    /// <returns>The socket, not yet receiving: call <see cref="Start"/>.</returns>
    /// <exception cref="SocketException">The address is in use or cannot be bound.</exception>
    public static UdpGossipSocket Bind(IPEndPoint endPoint, TransportCounters counters, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        ArgumentNullException.ThrowIfNull(counters);
        ArgumentNullException.ThrowIfNull(logger);
        var socket = new Socket(endPoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (endPoint.Address.Equals(IPAddress.IPv6Any))
            {
                // "[::]" listens on IPv4 too, as operators expect.
                socket.DualMode = true;
            }

            socket.Bind(endPoint);
            return new UdpGossipSocket(socket, counters, logger);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Starts the receive loop. Each datagram is delivered on the loop's thread as (sender "host:port", a new array
    /// of its bytes); the callback should hand it off quickly. Exceptions from the callback are logged and counted.
    /// </summary>
    /// <param name="onDatagram">Receives each datagram.</param>
    /// <exception cref="InvalidOperationException">Already started.</exception>
    public void Start(Action<string, byte[]> onDatagram)
    {
        ArgumentNullException.ThrowIfNull(onDatagram);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (Interlocked.CompareExchange(ref _receiveLoop, Task.CompletedTask, null) is not null)
        {
            throw new InvalidOperationException("The gossip socket is already receiving.");
        }

        _receiveLoop = Task.Run(() => ReceiveLoopAsync(onDatagram, _stop.Token));
    }

    /// <summary>
    /// Sends one datagram. Payloads above <see cref="MaxDatagramBytes"/> and unparseable or unresolvable addresses are
    /// dropped and counted; socket errors are logged and counted. Never throws for those.
    /// </summary>
    /// <param name="address">Destination "host:port" (IPv4 "a.b.c.d:p", IPv6 "[::1]:p", or a DNS name).</param>
    /// <param name="payload">Datagram bytes.</param>
    /// <param name="cancellationToken">Cancels the send.</param>
    /// <returns>True when the datagram was handed to the network.</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async ValueTask<bool> SendAsync(string address, byte[] payload, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(address);
        ArgumentNullException.ThrowIfNull(payload);
        if (payload.Length > MaxDatagramBytes)
        {
            _counters.DatagramDropped();
            LogDropped(_logger, address, $"{payload.Length} bytes exceed the {MaxDatagramBytes}-byte datagram limit");
            return false;
        }

        var endPoint = await ResolveAsync(address, cancellationToken).ConfigureAwait(false);
        if (endPoint is null)
        {
            _counters.DatagramDropped();
            LogDropped(_logger, address, "the address does not parse or resolve");
            return false;
        }

        try
        {
            await _socket.SendToAsync(payload, SocketFlags.None, endPoint, cancellationToken).ConfigureAwait(false);
            _counters.DatagramSent();
            return true;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            _counters.GossipError();
            LogSendFailed(_logger, address, ex.Message);
            return false;
        }
    }

    /// <summary>Stops the receive loop and closes the socket.</summary>
    /// <returns>A task that completes when the loop has stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        _socket.Dispose();
        if (_receiveLoop is { } loop)
        {
            await loop.ConfigureAwait(false);
        }

        _stop.Dispose();
    }

    /// <summary>Formats an endpoint as the "host:port" string gossip uses, unmapping IPv4-mapped IPv6 addresses.</summary>
    /// <param name="endPoint">The endpoint.</param>
    /// <returns>"a.b.c.d:port" or "[v6]:port".</returns>
    public static string FormatAddress(IPEndPoint endPoint)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        var address = endPoint.Address.IsIPv4MappedToIPv6 ? endPoint.Address.MapToIPv4() : endPoint.Address;
        return new IPEndPoint(address, endPoint.Port).ToString();
    }

    private async Task ReceiveLoopAsync(Action<string, byte[]> onDatagram, CancellationToken stopping)
    {
        var buffer = GC.AllocateUninitializedArray<byte>(MaxDatagramBytes + 1);
        EndPoint any = _socket.AddressFamily == AddressFamily.InterNetworkV6
            ? new IPEndPoint(IPAddress.IPv6Any, 0)
            : new IPEndPoint(IPAddress.Any, 0);
        while (!stopping.IsCancellationRequested)
        {
            SocketReceiveFromResult result;
            try
            {
                result = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, any, stopping).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex)
            {
                // For example ICMP port unreachable reported on the next receive (Windows); the socket stays usable.
                _counters.GossipError();
                LogReceiveFailed(_logger, ex.SocketErrorCode.ToString());
                continue;
            }

            if (result.ReceivedBytes > MaxDatagramBytes)
            {
                _counters.DatagramDropped();
                continue;
            }

            var from = FormatAddress((IPEndPoint)result.RemoteEndPoint);
            try
            {
                _counters.DatagramReceived();
                onDatagram(from, buffer.AsSpan(0, result.ReceivedBytes).ToArray());
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                _counters.GossipError();
                LogCallbackFailed(_logger, from, ex);
            }
        }
    }

    private async ValueTask<IPEndPoint?> ResolveAsync(string address, CancellationToken cancellationToken)
    {
        if (_resolved.TryGetValue(address, out var cached))
        {
            return cached;
        }

        IPEndPoint? endPoint = null;
        if (IPEndPoint.TryParse(address, out var literal) && literal.Port != 0)
        {
            endPoint = literal;
        }
        else
        {
            var colon = address.LastIndexOf(':');
            if (colon > 0
                && int.TryParse(address.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port)
                && port is > 0 and <= IPEndPoint.MaxPort)
            {
                try
                {
                    var addresses = await Dns.GetHostAddressesAsync(address[..colon], _socket.AddressFamily, cancellationToken).ConfigureAwait(false);
                    endPoint = addresses.Length > 0 ? new IPEndPoint(addresses[0], port) : null;
                }
                catch (SocketException)
                {
                    endPoint = null;
                }
            }
        }

        if (endPoint is not null && endPoint.AddressFamily == AddressFamily.InterNetwork && _socket.AddressFamily == AddressFamily.InterNetworkV6)
        {
            endPoint = new IPEndPoint(endPoint.Address.MapToIPv6(), endPoint.Port);
        }

        if (endPoint is not null)
        {
            if (_resolved.Count >= MaxCachedAddresses)
            {
                _resolved.Clear();
            }

            _resolved[address] = endPoint;
        }

        return endPoint;
    }

    [LoggerMessage(EventId = 1301, Level = LogLevel.Warning, Message = "Gossip datagram to {Address} dropped: {Reason}")]
    private static partial void LogDropped(ILogger logger, string address, string reason);

    [LoggerMessage(EventId = 1302, Level = LogLevel.Warning, Message = "Gossip datagram to {Address} not sent: {Reason}")]
    private static partial void LogSendFailed(ILogger logger, string address, string reason);

    [LoggerMessage(EventId = 1303, Level = LogLevel.Warning, Message = "Gossip receive failed ({Error}); still receiving")]
    private static partial void LogReceiveFailed(ILogger logger, string error);

    [LoggerMessage(EventId = 1304, Level = LogLevel.Error, Message = "Gossip datagram handler failed for a datagram from {From}")]
    private static partial void LogCallbackFailed(ILogger logger, string from, Exception exception);
}
