using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging.Abstractions;

namespace WalrusGossip.Transport.Tests;

/// <summary>Creates transports for a theory over <see cref="TransportMode"/>; QUIC runs skip with the reason when unavailable.</summary>
internal static class TestTransports
{
    public static readonly IPEndPoint AnyLoopbackPort = new(IPAddress.Loopback, 0);

    public static void SkipIfUnavailable(TransportMode mode)
    {
        if (mode == TransportMode.Quic && !QuicSupport.IsAvailable(out var reason))
        {
            Assert.Skip(reason);
        }
    }

    public static ITransport Create(
        TransportMode mode,
        X509Certificate2? certificate,
        X509Certificate2Collection? trustedRoots,
        bool requireClientCertificate = false,
        int maxFrameBytes = Protocol.ProtocolLimits.DefaultMaxFrameBytes,
        Microsoft.Extensions.Logging.ILogger? logger = null,
        bool validateRemoteName = true)
    {
        SkipIfUnavailable(mode);
        var options = new TransportOptions
        {
            Mode = mode,
            Certificate = certificate,
            TrustedRoots = trustedRoots,
            RequireClientCertificate = requireClientCertificate,
            MaxFrameBytes = maxFrameBytes,
            ValidateRemoteName = validateRemoteName,
            ConnectTimeout = TimeSpan.FromSeconds(5),
            HandshakeTimeout = TimeSpan.FromSeconds(5),
        };
        return TransportFactory.Create(options, logger ?? NullLogger.Instance, out _);
    }

    /// <summary>A server transport (node A) and a client transport (node B), both trusting the cluster CA, with mutual TLS.</summary>
    public static (ITransport Server, ITransport Client) ClusterPair(TransportMode mode, int maxFrameBytes = Protocol.ProtocolLimits.DefaultMaxFrameBytes, Microsoft.Extensions.Logging.ILogger? serverLogger = null) =>
        (Create(mode, TestCertificates.NodeA, TestCertificates.ClusterRoots, requireClientCertificate: true, maxFrameBytes, serverLogger),
         Create(mode, TestCertificates.NodeB, TestCertificates.ClusterRoots, requireClientCertificate: false, maxFrameBytes));

    /// <summary>Listens, connects and accepts: a connected pair of connections.</summary>
    /// <summary>A listener on loopback and one connection through it, from a fresh <see cref="ClusterPair"/>; disposing closes all three.</summary>
    public static async Task<ConnectedPair> OpenPairAsync(TransportMode mode, CancellationToken cancellationToken, int maxFrameBytes = Protocol.ProtocolLimits.DefaultMaxFrameBytes)
    {
        var (server, client) = ClusterPair(mode, maxFrameBytes);
        var (listener, serverSide, clientSide) = await ConnectPairAsync(server, client, cancellationToken);
        return new ConnectedPair(server, listener, serverSide, clientSide);
    }

    public static async Task<(IFrameListener Listener, IFrameConnection ServerSide, IFrameConnection ClientSide)> ConnectPairAsync(
        ITransport server, ITransport client, CancellationToken cancellationToken)
    {
        var listener = await server.ListenAsync(AnyLoopbackPort, cancellationToken);
        var clientSide = await client.ConnectAsync("127.0.0.1", listener.LocalEndPoint.Port, cancellationToken);
        var serverSide = await listener.AcceptAsync(cancellationToken);
        return (listener, serverSide, clientSide);
    }

    /// <summary>
    /// Waits for a condition that another thread makes true without a signal the test can await (for example a
    /// counter the server bumps after the client already saw the refusal). Fails when the token expires.
    /// </summary>
    public static async Task WaitUntilAsync(Func<bool> condition, CancellationToken cancellationToken)
    {
        while (!condition())
        {
            await Task.Delay(TimeSpan.FromMilliseconds(5), cancellationToken);
        }
    }

    /// <summary>A token cancelled after <paramref name="seconds"/> or when the test is cancelled.</summary>
    public static CancellationTokenSource Deadline(int seconds = 20)
    {
        var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        cts.CancelAfter(TimeSpan.FromSeconds(seconds));
        return cts;
    }
}

/// <summary>The result of <see cref="TestTransports.OpenPairAsync"/>. Closing a side early is fine: connections close once.</summary>
public sealed class ConnectedPair(ITransport server, IFrameListener listener, IFrameConnection serverSide, IFrameConnection clientSide) : IAsyncDisposable
{
    public ITransport Server { get; } = server;

    public IFrameConnection ServerSide { get; } = serverSide;

    public IFrameConnection ClientSide { get; } = clientSide;

    public async ValueTask DisposeAsync()
    {
        await ClientSide.DisposeAsync();
        await ServerSide.DisposeAsync();
        await listener.DisposeAsync();
    }
}
