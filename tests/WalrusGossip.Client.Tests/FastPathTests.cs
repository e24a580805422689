using Polly.Timeout;
using WalrusGossip.Client.Tests.Fakes;
using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;

namespace WalrusGossip.Client.Tests;

/// <summary>
/// The fast path: with a connection open and the circuit closed, a request's first attempt goes straight to the
/// connection; anything but an OK answer continues in the retry pipeline exactly as a pipeline attempt would.
/// Each test connects first (GetStatusAsync), so that the request under test takes the fast path.
/// </summary>
public sealed class FastPathTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 30_000)]
    public async Task A_fast_path_timeout_is_retried_and_reported_as_before()
    {
        await using var agent = await FakeAgent.StartAsync();
        var options = TestClients.Options(agent.Endpoint);
        options.RequestTimeout = TimeSpan.FromMilliseconds(500);
        options.MaxRetries = 1;
        await using var client = new WalrusClient(options);
        await client.GetStatusAsync(Ct);
        agent.AppendFaults.Enqueue(AppendFault.NoAnswerAfterApply);

        var retried = await client.AppendAsync("once"u8.ToArray(), cancellationToken: Ct);

        Assert.Equal(1ul, retried.Index);
        Assert.Equal([1ul, 1ul], agent.Log.Arrivals.Select(a => a.Sequence));

        agent.AppendFaults.Enqueue(AppendFault.NoAnswerAfterApply);
        agent.AppendFaults.Enqueue(AppendFault.NoAnswerAfterApply);
        var thrown = await Assert.ThrowsAsync<WalrusTimeoutException>(() => client.AppendAsync("twice"u8.ToArray(), cancellationToken: Ct));

        Assert.Equal("AppendRequest: no answer within 0.5 s per attempt, 2 attempts", thrown.Message);
        Assert.IsType<TimeoutRejectedException>(thrown.InnerException);
        Assert.True(thrown.IsTransient);
        Assert.Equal(4, agent.AppendRequests);
        Assert.Equal([1ul, 1ul, 2ul, 2ul], agent.Log.Arrivals.Select(a => a.Sequence));
        Assert.Equal(2ul, agent.Log.LastIndex);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_connection_lost_on_the_fast_path_falls_back_and_the_breaker_opens_after_failed_connects()
    {
        var agent = await FakeAgent.StartAsync();
        var options = TestClients.Options(agent.Endpoint);
        options.MaxRetries = 5;
        options.CircuitBreakDuration = TimeSpan.FromMinutes(5);
        await using var client = new WalrusClient(options);
        await client.AppendAsync("warm"u8.ToArray(), cancellationToken: Ct);
        agent.HoldAppends = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var append = client.AppendAsync("lost"u8.ToArray(), cancellationToken: Ct);
        await WaitUntilAsync(() => agent.AppendRequests == 2);
        await agent.DisposeAsync(); // the fast-path attempt loses its connection; every reconnect is refused

        var thrown = await Assert.ThrowsAsync<WalrusUnavailableException>(() => append);

        // 6 attempts: the lost connection, then refused connects until the breaker (3 samples, half failed) opens.
        Assert.Contains("circuit open", thrown.Message, StringComparison.Ordinal);
        var again = await Assert.ThrowsAsync<WalrusUnavailableException>(() => client.AppendAsync("skipped"u8.ToArray(), cancellationToken: Ct));
        Assert.Contains("circuit open", again.Message, StringComparison.Ordinal);
    }

    [Theory(Timeout = 30_000)]
    [InlineData(ResponseStatus.InvalidArgument, typeof(WalrusInvalidArgumentException), 1)]
    [InlineData(ResponseStatus.Overloaded, typeof(WalrusOverloadedException), 4)]
    [InlineData(ResponseStatus.Unavailable, typeof(WalrusUnavailableException), 4)]
    public async Task A_refusal_on_the_fast_path_is_retried_only_when_transient(ResponseStatus status, Type exception, int attempts)
    {
        await using var agent = await FakeAgent.StartAsync();
        await using var client = TestClients.Create(agent.Endpoint);
        await client.GetStatusAsync(Ct);
        agent.ForcedStatus[MessageType.AppendRequest] = status;

        var thrown = await Assert.ThrowsAnyAsync<WalrusException>(() => client.AppendAsync("x"u8.ToArray(), cancellationToken: Ct));

        Assert.IsType(exception, thrown);
        Assert.Equal(attempts, agent.AppendRequests);
    }

    [Fact(Timeout = 30_000)]
    public async Task Coalesced_payloads_arrive_intact_whatever_their_sizes()
    {
        await using var agent = await FakeAgent.StartAsync();
        await using var client = TestClients.Create(agent.Endpoint);
        var sizes = new[] { 0, 1, 1280, 16 << 10, (16 << 10) + 1, 40 << 10, 3, 70 << 10, 1280, 60 << 10 };
        var payloads = sizes.Select((size, i) => Enumerable.Range(0, size).Select(b => (byte)(b * 7 + i)).ToArray()).ToArray();

        var results = await client.AppendBatchAsync([.. payloads.Select(p => ((string?)null, (ReadOnlyMemory<byte>)p))], Ct);

        Assert.Equal(Enumerable.Range(1, sizes.Length).Select(i => (ulong)i), results.Select(r => r.Index));
        var stored = agent.Log.Snapshot();
        for (var i = 0; i < payloads.Length; i++)
        {
            Assert.Equal(payloads[i], stored[i].Payload.ToByteArray());
        }
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
}
