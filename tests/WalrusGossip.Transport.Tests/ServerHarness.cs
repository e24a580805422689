using Google.Protobuf;
using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;

namespace WalrusGossip.Transport.Tests;

/// <summary>
/// A <see cref="FrameServer"/> on loopback that answers StatusRequest with a StatusResponse echoing the request id,
/// decodes RaftEnvelope through <see cref="RaftMessageMapper"/>, and ignores everything else.
/// </summary>
internal sealed class ServerHarness : IAsyncDisposable
{
    public const string ClusterId = "test-cluster";

    private readonly CancellationTokenSource _stop = new();
    private readonly IFrameListener _listener;
    private readonly Task _running;

    private ServerHarness(ITransport server, ITransport client, IFrameListener listener, FrameServer frameServer, CapturingLogger logger)
    {
        Server = server;
        Client = client;
        _listener = listener;
        FrameServer = frameServer;
        Logger = logger;
        _running = frameServer.RunAsync(_stop.Token);
    }

    public ITransport Server { get; }

    public ITransport Client { get; }

    public FrameServer FrameServer { get; }

    public CapturingLogger Logger { get; }

    public TransportCounters Counters => Server.Counters;

    public int Port => _listener.LocalEndPoint.Port;

    public static async Task<ServerHarness> StartAsync(TransportMode mode, CancellationToken cancellationToken, int maxFrameBytes = 64 * 1024)
    {
        var logger = new CapturingLogger();
        var (server, client) = TestTransports.ClusterPair(mode, maxFrameBytes, logger);
        var listener = await server.ListenAsync(TestTransports.AnyLoopbackPort, cancellationToken);
        var options = new FrameServerOptions
        {
            Hello = new HelloAcceptOptions { LocalNodeId = 1, ClusterId = ClusterId, AllowedRoles = [ConnectionRole.Client] },
            HelloTimeout = TimeSpan.FromSeconds(10),
        };
        var frameServer = new FrameServer(listener, options, HandleAsync, server.Counters, logger);
        return new ServerHarness(server, client, listener, frameServer, logger);
    }

    /// <summary>Connects as a client and completes the hello exchange.</summary>
    public async Task<IFrameConnection> ConnectClientAsync(CancellationToken cancellationToken)
    {
        var connection = await ConnectRawAsync(cancellationToken);
        await HelloHandshake.ConnectAsync(connection, new Hello { Role = ConnectionRole.Client, ClusterId = ClusterId, Name = "test-client" }, cancellationToken);
        return connection;
    }

    /// <summary>Connects without sending a hello.</summary>
    public async Task<StreamFrameConnection> ConnectRawAsync(CancellationToken cancellationToken) =>
        (StreamFrameConnection)await Client.ConnectAsync("127.0.0.1", Port, cancellationToken);

    /// <summary>Sends a StatusRequest and checks that the answer echoes its id.</summary>
    public static async Task AssertServesAsync(IFrameConnection connection, ulong requestId, CancellationToken cancellationToken)
    {
        await connection.SendAsync(MessageType.StatusRequest, new StatusRequest { RequestId = requestId }, cancellationToken);
        var answer = await connection.ReceiveAsync(cancellationToken);
        Assert.Equal(requestId, Assert.IsType<StatusResponse>(answer?.Message).RequestId);
    }

    /// <summary>Reads until the server closes the connection (end of stream or a reset).</summary>
    public static async Task DrainUntilClosedAsync(IFrameConnection connection, CancellationToken cancellationToken)
    {
        try
        {
            while (await connection.ReceiveAsync(cancellationToken) is not null)
            {
            }
        }
        catch (IOException)
        {
            // A reset is also a close.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _running;
        await _listener.DisposeAsync();
        _stop.Dispose();
    }

    private static async ValueTask HandleAsync(FrameSession session, MessageType type, IMessage message, CancellationToken cancellationToken)
    {
        switch (message)
        {
            case StatusRequest request:
                await session.SendAsync(MessageType.StatusResponse, new StatusResponse { RequestId = request.RequestId, Status = ResponseStatus.Ok, NodeId = 1 }, cancellationToken);
                break;
            case RaftEnvelope envelope:
                RaftMessageMapper.FromProto(envelope);
                break;
        }
    }
}
