using System.Text;
using Google.Protobuf;
using WalrusGossip.Client.Tests.Fakes;
using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;

namespace WalrusGossip.Client.Tests;

public sealed class TailTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 30_000)]
    public async Task Tail_streams_existing_entries_then_new_ones_in_index_order()
    {
        await using var agent = await FakeAgent.StartAsync();
        for (var i = 1; i <= 5; i++)
        {
            agent.Log.Append(0, 0, "", ByteString.CopyFromUtf8($"old-{i}"));
        }

        await using var client = TestClients.Create(agent.Endpoint);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var received = new List<LogEntry>();
        var caughtUp = new TaskCompletionSource();
        var consumer = Task.Run(async () =>
        {
            await foreach (var entry in client.TailAsync(3, stop.Token))
            {
                received.Add(entry);
                if (entry.Index == 3 + 2)
                {
                    // Caught up with the existing entries: now append new ones through the SDK.
                    caughtUp.TrySetResult();
                }

                if (entry.Index == 10)
                {
                    break;
                }
            }
        }, Ct);

        await caughtUp.Task.WaitAsync(Ct);
        for (var i = 6; i <= 10; i++)
        {
            await client.AppendAsync(Encoding.UTF8.GetBytes($"new-{i}"), cancellationToken: Ct);
        }

        await consumer.WaitAsync(Ct);
        Assert.Equal(Enumerable.Range(3, 8).Select(i => (ulong)i), received.Select(e => e.Index));
        Assert.Equal("old-3", Encoding.UTF8.GetString(received[0].Payload.Span));
        Assert.Equal("new-10", Encoding.UTF8.GetString(received[^1].Payload.Span));
    }

    [Fact(Timeout = 30_000)]
    public async Task Tail_resumes_after_the_connection_drops_without_gaps_or_repeats()
    {
        await using var agent = await FakeAgent.StartAsync();
        for (var i = 1; i <= 40; i++)
        {
            agent.Log.Append(0, 0, "", ByteString.CopyFromUtf8($"e{i}"));
        }

        agent.DropTailAfterEntries = 14;
        await using var client = TestClients.Create(agent.Endpoint);

        var received = new List<ulong>();
        await foreach (var entry in client.TailAsync(1, Ct))
        {
            received.Add(entry.Index);
            if (entry.Index == 40)
            {
                break;
            }
        }

        Assert.Equal(Enumerable.Range(1, 40).Select(i => (ulong)i), received);
        Assert.Equal(2, agent.TailRequests);
    }

    [Fact(Timeout = 30_000)]
    public async Task Tail_from_a_compacted_index_throws_WalrusCompactedException()
    {
        await using var agent = await FakeAgent.StartAsync();
        agent.ForcedStatus[MessageType.TailRequest] = ResponseStatus.Compacted;
        await using var client = TestClients.Create(agent.Endpoint);

        await Assert.ThrowsAsync<WalrusCompactedException>(async () =>
        {
            await foreach (var _ in client.TailAsync(1, Ct))
            {
            }
        });
    }

    [Fact(Timeout = 30_000)]
    public async Task Tail_filters_by_stream()
    {
        await using var agent = await FakeAgent.StartAsync();
        agent.Log.Append(0, 0, "a", ByteString.CopyFromUtf8("1"));
        agent.Log.Append(0, 0, "b", ByteString.CopyFromUtf8("2"));
        await using var client = TestClients.Create(agent.Endpoint);

        var range = await client.ReadRangeAsync(1, stream: "b", cancellationToken: Ct);

        Assert.Equal([2ul], range.Entries.Select(e => e.Index));
    }

    [Fact(Timeout = 30_000)]
    public async Task Disposing_the_client_ends_a_running_tail()
    {
        await using var agent = await FakeAgent.StartAsync();
        agent.Log.Append(0, 0, "", ByteString.CopyFromUtf8("1"));
        var client = TestClients.Create(agent.Endpoint);
        var first = new TaskCompletionSource();
        var consumer = Task.Run(async () =>
        {
            await foreach (var _ in client.TailAsync(1, Ct))
            {
                first.TrySetResult();
            }
        }, Ct);
        await first.Task.WaitAsync(Ct);

        await client.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => consumer.WaitAsync(Ct));
    }
}
