using System.Buffers.Binary;
using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;

namespace WalrusGossip.Transport.Tests;

/// <summary>One connection that sends one randomly generated bad frame, and the error the server should count.</summary>
internal sealed record RandomAttack(byte[] Bytes, bool HelloFirst, bool EndStream, uint HelloVersion, ProtocolErrorKind? ExpectedError)
{
    /// <summary>Builds a reproducible list of attacks from a seed.</summary>
    public static List<RandomAttack> Plan(int seed, int count, int maxFrameBytes)
    {
        var random = new Random(seed);
        var attacks = new List<RandomAttack>(count);
        for (var i = 0; i < count; i++)
        {
            attacks.Add(random.Next(8) switch
            {
                0 => new(Oversized(random, maxFrameBytes), random.Next(2) == 0, false, 0, ProtocolErrorKind.FrameTooLarge),
                1 => new(UnknownType(random), random.Next(2) == 0, false, 0, ProtocolErrorKind.UnknownMessageType),
                2 => Oracle(RandomBody(random)),
                3 => new(Truncated(random), random.Next(2) == 0, true, 0, ProtocolErrorKind.Truncated),
                4 => new(Prefix((uint)random.Next(2)), random.Next(2) == 0, false, 0, ProtocolErrorKind.Malformed),
                5 => Oracle(RandomBytes(random, random.Next(1, 65))),
                6 => new(SampleFrame(random, exclude: MessageType.Hello), false, false, 0, ProtocolErrorKind.UnexpectedMessage),
                _ => new([], false, false, (uint)random.Next(2, 1000), ProtocolErrorKind.VersionMismatch),
            });
        }

        return attacks;
    }

    /// <summary>Connects, optionally says hello, sends the bytes, and waits until the server closes the connection.</summary>
    public async Task RunAsync(ServerHarness harness, CancellationToken cancellationToken)
    {
        await using var connection = await harness.ConnectRawAsync(cancellationToken);
        if (HelloVersion != 0)
        {
            var ex = await Assert.ThrowsAsync<ProtocolException>(async () =>
                await HelloHandshake.ConnectAsync(connection, new Hello { ProtocolVersion = HelloVersion, Role = ConnectionRole.Client }, cancellationToken));
            Assert.Equal(ProtocolErrorKind.VersionMismatch, ex.Kind);
        }
        else
        {
            if (HelloFirst)
            {
                await HelloHandshake.ConnectAsync(connection, new Hello { Role = ConnectionRole.Client }, cancellationToken);
            }

            await connection.SendRawAsync(Bytes, cancellationToken);
            if (EndStream || ExpectedError is null)
            {
                await connection.CompleteWritesAsync();
            }
        }

        await ServerHarness.DrainUntilClosedAsync(connection, cancellationToken);
    }

    /// <summary>
    /// For bytes that may happen to be valid frames: sent after a hello and followed by end of stream; the server
    /// reports an error exactly when the codec does.
    /// </summary>
    private static RandomAttack Oracle(byte[] bytes)
    {
        ProtocolErrorKind? error = null;
        using var stream = new MemoryStream(bytes);
        try
        {
            while (FrameCodec.ReadFrameAsync(stream, 64 * 1024, CancellationToken.None).AsTask().GetAwaiter().GetResult() is not null)
            {
            }
        }
        catch (ProtocolException ex)
        {
            error = ex.Kind;
        }

        return new RandomAttack(bytes, HelloFirst: true, EndStream: true, HelloVersion: 0, error);
    }

    private static byte[] Oversized(Random random, int maxFrameBytes)
    {
        var prefix = Prefix((uint)random.NextInt64(maxFrameBytes + 1L, uint.MaxValue + 1L));
        return [.. prefix, .. RandomBytes(random, random.Next(0, 17))];
    }

    private static byte[] UnknownType(Random random)
    {
        ushort type;
        do
        {
            type = (ushort)random.Next(ushort.MaxValue + 1);
        }
        while (MessageTypes.IsKnown((MessageType)type));

        var body = RandomBytes(random, random.Next(0, 32));
        return [.. Prefix((uint)(2 + body.Length)), .. BitConverter.GetBytes(type), .. body];
    }

    private static byte[] RandomBody(Random random)
    {
        var type = MessageTypes.All[random.Next(MessageTypes.All.Count)];
        var body = RandomBytes(random, random.Next(1, 65));
        var header = new byte[6];
        new FrameHeader((uint)(2 + body.Length), type).Write(header);
        return [.. header, .. body];
    }

    private static byte[] Truncated(Random random)
    {
        var frame = SampleFrame(random, exclude: MessageType.None);
        return frame[..random.Next(1, frame.Length)];
    }

    private static byte[] SampleFrame(Random random, MessageType exclude)
    {
        var candidates = MessageTypes.All.Where(t => t != exclude).ToList();
        var type = candidates[random.Next(candidates.Count)];
        return FrameCodec.Encode(type, MessageSamples.All[type]);
    }

    private static byte[] Prefix(uint length)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, length);
        return bytes;
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }
}
