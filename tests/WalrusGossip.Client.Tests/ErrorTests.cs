using WalrusGossip.Client.Tests.Fakes;
using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;

namespace WalrusGossip.Client.Tests;

public sealed class ErrorTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<ResponseStatus, Type, int> AppendOutcomes => new()
    {
        // status, exception, attempts (MaxRetries is 3 in tests: transient outcomes take 4 attempts, others 1)
        { ResponseStatus.InvalidArgument, typeof(WalrusInvalidArgumentException), 1 },
        { ResponseStatus.SessionExpired, typeof(WalrusSessionExpiredException), 1 },
        { ResponseStatus.Overloaded, typeof(WalrusOverloadedException), 4 },
        { ResponseStatus.Unavailable, typeof(WalrusUnavailableException), 4 },
        { ResponseStatus.Retry, typeof(WalrusUnavailableException), 4 },
        { ResponseStatus.Timeout, typeof(WalrusTimeoutException), 4 },
    };

    [Theory(Timeout = 30_000)]
    [MemberData(nameof(AppendOutcomes))]
    public async Task An_append_refusal_becomes_its_typed_exception_after_retrying_only_transient_ones(ResponseStatus status, Type exception, int attempts)
    {
        await using var agent = await FakeAgent.StartAsync();
        agent.ForcedStatus[MessageType.AppendRequest] = status;
        await using var client = TestClients.Create(agent.Endpoint);

        var thrown = await Assert.ThrowsAnyAsync<WalrusException>(() => client.AppendAsync("x"u8.ToArray(), cancellationToken: Ct));

        Assert.IsType(exception, thrown);
        Assert.Equal(attempts, agent.AppendRequests);
        Assert.Equal(attempts > 1, thrown.IsTransient);
    }

    [Theory(Timeout = 30_000)]
    [InlineData(ResponseStatus.Compacted, typeof(WalrusCompactedException))]
    [InlineData(ResponseStatus.NotFound, typeof(WalrusNotFoundException))]
    [InlineData(ResponseStatus.InvalidArgument, typeof(WalrusInvalidArgumentException))]
    public async Task A_read_refusal_becomes_its_typed_exception_without_retrying(ResponseStatus status, Type exception)
    {
        await using var agent = await FakeAgent.StartAsync();
        agent.ForcedStatus[MessageType.ReadRequest] = status;
        await using var client = TestClients.Create(agent.Endpoint);

        var thrown = await Assert.ThrowsAnyAsync<WalrusException>(() => client.ReadAsync(1, cancellationToken: Ct));

        Assert.IsType(exception, thrown);
        Assert.Equal(1, agent.ReadRequests);
    }

    [Fact(Timeout = 30_000)]
    public async Task Nothing_listening_gives_WalrusUnavailableException_after_the_retries()
    {
        var agent = await FakeAgent.StartAsync();
        var endpoint = agent.Endpoint;
        await agent.DisposeAsync();
        await using var client = TestClients.Create(endpoint);

        var thrown = await Assert.ThrowsAsync<WalrusUnavailableException>(() => client.AppendAsync("x"u8.ToArray(), cancellationToken: Ct));

        Assert.Contains(endpoint, thrown.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task No_agent_knowing_a_leader_gives_WalrusUnavailableException()
    {
        var log = new FakeLog();
        await using var other = await FakeAgent.StartAsync(1, log);
        await using var lost = await FakeAgent.StartAsync(2, log);
        lost.Leader = other;
        lost.LeaderUnknown = true;
        await using var client = TestClients.Create(lost.Endpoint);

        await Assert.ThrowsAsync<WalrusUnavailableException>(() => client.AppendAsync("x"u8.ToArray(), cancellationToken: Ct));

        Assert.Equal(4, lost.AppendRequests);
        Assert.Equal(0ul, log.LastIndex);
    }

    [Fact(Timeout = 30_000)]
    public async Task Attempts_that_never_answer_give_WalrusTimeoutException()
    {
        await using var agent = await FakeAgent.StartAsync();
        var options = TestClients.Options(agent.Endpoint);
        options.RequestTimeout = TimeSpan.FromSeconds(1);
        options.MaxRetries = 1;
        await using var client = new WalrusClient(options);
        await client.GetStatusAsync(Ct); // connect first: the short timeout is for the appends, not the TLS handshake
        agent.AppendFaults.Enqueue(AppendFault.NoAnswerAfterApply);
        agent.AppendFaults.Enqueue(AppendFault.NoAnswerAfterApply);

        await Assert.ThrowsAsync<WalrusTimeoutException>(() => client.AppendAsync("x"u8.ToArray(), cancellationToken: Ct));

        Assert.Equal(2, agent.AppendRequests);
        Assert.Equal(1ul, agent.Log.LastIndex);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_payload_larger_than_a_frame_is_an_invalid_argument_and_nothing_is_sent()
    {
        await using var agent = await FakeAgent.StartAsync();
        var options = TestClients.Options(agent.Endpoint);
        options.MaxFrameBytes = 4096;
        await using var client = new WalrusClient(options);

        await Assert.ThrowsAsync<WalrusInvalidArgumentException>(() => client.AppendAsync(new byte[8192], cancellationToken: Ct));

        Assert.Equal(0, agent.AppendRequests);
    }

    [Fact]
    public void Invalid_options_are_refused_with_the_setting_named()
    {
        var noEndpoints = Assert.Throws<ArgumentException>(() => new WalrusClient(new WalrusClientOptions()));
        Assert.Contains("Endpoints", noEndpoints.Message, StringComparison.Ordinal);
        var badEndpoint = Assert.Throws<ArgumentException>(() => new WalrusClient(new WalrusClientOptions { Endpoints = ["no-port"] }));
        Assert.Contains("no-port", badEndpoint.Message, StringComparison.Ordinal);
        var zeroClient = Assert.Throws<ArgumentException>(() => new WalrusClient(new WalrusClientOptions { Endpoints = ["127.0.0.1:1"], ClientId = 0 }));
        Assert.Contains("ClientId", zeroClient.Message, StringComparison.Ordinal);
        var missingCa = Assert.Throws<ArgumentException>(() => new WalrusClient(new WalrusClientOptions { Endpoints = ["127.0.0.1:1"], CaFile = "/nonexistent/ca.pem" }));
        Assert.Contains("CaFile", missingCa.Message, StringComparison.Ordinal);
    }
}
