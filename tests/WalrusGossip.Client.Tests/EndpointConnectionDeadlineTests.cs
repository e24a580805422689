using System.Diagnostics;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Threading.Channels;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using Polly.Timeout;
using WalrusGossip.Client.Connections;
using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;
using WalrusGossip.Transport;

namespace WalrusGossip.Client.Tests;

/// <summary>Request deadlines on a connection: one sweep timer per connection instead of a timer per request.</summary>
public sealed class EndpointConnectionDeadlineTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 30_000)]
    public async Task An_unanswered_request_fails_with_TimeoutRejectedException_after_its_deadline_and_the_sweep_rearms()
    {
        var frames = new FakeFrameConnection();
        await using var connection = EndpointConnection.Start(frames, "fake:1", 1, TimeSpan.FromMilliseconds(320), NullLogger.Instance);
        Assert.Equal(TimeSpan.FromMilliseconds(20), connection.SweepPeriod);

        for (var round = 0; round < 2; round++) // the second round needs the sweep, stopped once idle, to start again
        {
            var clock = Stopwatch.StartNew();
            await Assert.ThrowsAsync<TimeoutRejectedException>(() =>
                connection.RequestAsync(MessageType.StatusRequest, new StatusRequest(), TimeSpan.FromMilliseconds(200), Ct));
            Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(190), TimeSpan.FromSeconds(5));
            await WaitUntilAsync(() => !frames.Sweeping(connection));
        }

        Assert.True(connection.IsOpen);
    }

    [Fact(Timeout = 30_000)]
    public async Task An_answer_before_the_deadline_is_returned_and_requests_without_a_deadline_are_not_swept()
    {
        var frames = new FakeFrameConnection();
        await using var connection = EndpointConnection.Start(frames, "fake:1", 1, TimeSpan.FromMilliseconds(160), NullLogger.Instance);
        var patient = connection.RequestAsync(MessageType.StatusRequest, new StatusRequest(), Ct);
        var hurried = connection.RequestAsync(MessageType.StatusRequest, new StatusRequest(), TimeSpan.FromSeconds(10), Ct);
        var doomed = connection.RequestAsync(MessageType.StatusRequest, new StatusRequest(), TimeSpan.FromMilliseconds(50), Ct);

        await Assert.ThrowsAsync<TimeoutRejectedException>(() => doomed);
        Assert.False(patient.IsCompleted);
        IMessage[] sent;
        lock (frames.Sent)
        {
            sent = [.. frames.Sent];
        }

        frames.Answer(new StatusResponse { RequestId = ((StatusRequest)sent[1]).RequestId, Status = ResponseStatus.Ok, NodeId = 7 });
        frames.Answer(new StatusResponse { RequestId = ((StatusRequest)sent[0]).RequestId, Status = ResponseStatus.Ok, NodeId = 8 });

        Assert.Equal(7ul, ((StatusResponse)(await hurried).Message).NodeId);
        Assert.Equal(8ul, ((StatusResponse)(await patient).Message).NodeId);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_send_still_stalled_at_the_deadline_times_out_and_aborts_the_connection()
    {
        var frames = new FakeFrameConnection { StallSends = true };
        await using var connection = EndpointConnection.Start(frames, "fake:1", 1, TimeSpan.FromMilliseconds(160), NullLogger.Instance);

        await Assert.ThrowsAsync<TimeoutRejectedException>(() =>
            connection.RequestAsync(MessageType.StatusRequest, new StatusRequest(), TimeSpan.FromMilliseconds(100), Ct));

        Assert.False(connection.IsOpen);
        await Assert.ThrowsAsync<ConnectionLostException>(() =>
            connection.RequestAsync(MessageType.StatusRequest, new StatusRequest(), TimeSpan.FromMilliseconds(100), Ct));
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met within 10 s");
            await Task.Delay(5, Ct);
        }
    }

    /// <summary>Frames in memory: records what is sent, delivers what the test answers.</summary>
    private sealed class FakeFrameConnection : IFrameConnection
    {
        private readonly Channel<(MessageType, IMessage)> _inbound = Channel.CreateUnbounded<(MessageType, IMessage)>();

        public bool StallSends { get; init; }

        public List<IMessage> Sent { get; } = [];

        public EndPoint RemoteEndPoint { get; } = new IPEndPoint(IPAddress.Loopback, 1);

        public X509Certificate2? RemoteCertificate => null;

        public void Answer(StatusResponse response) => _inbound.Writer.TryWrite((MessageType.StatusResponse, response));

        /// <summary>Whether the connection's sweep timer is armed (read through its private field).</summary>
        public bool Sweeping(EndpointConnection connection) =>
            (int)typeof(EndpointConnection).GetField("_sweepArmed", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!.GetValue(connection)! != 0;

        public ValueTask SendAsync(MessageType type, IMessage message, CancellationToken cancellationToken)
        {
            lock (Sent)
            {
                Sent.Add(message);
            }

            return StallSends ? new ValueTask(Task.Delay(Timeout.Infinite, cancellationToken)) : ValueTask.CompletedTask;
        }

        public bool Post(MessageType type, IMessage message) => throw new NotSupportedException();

        public async ValueTask<(MessageType Type, IMessage Message)?> ReceiveAsync(CancellationToken cancellationToken)
        {
            try
            {
                return await _inbound.Reader.ReadAsync(cancellationToken);
            }
            catch (ChannelClosedException)
            {
                return null;
            }
        }

        public ValueTask DisposeAsync()
        {
            _inbound.Writer.TryComplete();
            return ValueTask.CompletedTask;
        }
    }
}
