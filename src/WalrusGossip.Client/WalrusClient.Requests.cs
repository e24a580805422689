using System.Net;
using System.Runtime.ExceptionServices;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Polly.CircuitBreaker;
using Polly.Timeout;
using WalrusGossip.Client.Connections;
using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;

namespace WalrusGossip.Client;

/// <summary>Request execution: the resilience pipeline around attempts, endpoint choice and NOT_LEADER redirects.</summary>
public sealed partial class WalrusClient
{
    /// <summary>
    /// Runs a request. While the preferred endpoint's circuit is closed and its connection is open, the first attempt
    /// goes straight to that connection (no pipeline, no breaker: it cannot fail to connect, the only outcome the
    /// breaker counts), with the same per-attempt timeout enforced by the connection's deadline sweep. Any other
    /// outcome than an OK answer (a failure, a timeout, NOT_LEADER or another status) is handed to the retry + timeout
    /// pipeline as the outcome of its first attempt, so retries, redirects, breaker accounting and the attempt count
    /// are exactly as when the first attempt ran inside the pipeline. The request object is reused by every attempt:
    /// an append's client id and sequence never change across retries.
    /// </summary>
    /// <returns>The OK response and the endpoint that gave it.</returns>
    private Task<(IMessage Response, string Endpoint)> ExecuteAsync(MessageType type, IMessage request, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var endpoint = PickEndpoint();
        return endpoint.OpenConnectionIfHealthy() is { } connection
            ? ExecuteFastAsync(endpoint, connection, type, request, cancellationToken)
            : ExecutePipelineAsync(type, request, null, cancellationToken);
    }

    /// <summary>The fast path: one attempt on an open connection; anything but an OK answer continues in the pipeline.</summary>
    private async Task<(IMessage Response, string Endpoint)> ExecuteFastAsync(
        EndpointState endpoint, EndpointConnection connection, MessageType type, IMessage request, CancellationToken cancellationToken)
    {
        FirstAttempt first;
        try
        {
            var (responseType, response) = await connection.RequestAsync(type, request, _options.RequestTimeout, cancellationToken).ConfigureAwait(false);
            if (responseType == ResponseTypeOf(type) && ResponseInfo.Of(responseType, response) is { Status: ResponseStatus.Ok } info)
            {
                NoteLeader(info.LeaderClientAddress);
                return (response, endpoint.Key);
            }

            first = new FirstAttempt(endpoint, responseType, response, null);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw; // the caller gave up: as inside the pipeline, no retry
        }
#pragma warning disable CA1031 // every failure is handed to the pipeline, which rethrows or retries it
        catch (Exception e)
#pragma warning restore CA1031
        {
            first = new FirstAttempt(endpoint, default, null, ExceptionDispatchInfo.Capture(e));
        }

        return await ExecutePipelineAsync(type, request, first, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs a request through the retry + timeout pipeline; <paramref name="first"/>, when set, is the outcome of its first attempt.</summary>
    private async Task<(IMessage Response, string Endpoint)> ExecutePipelineAsync(MessageType type, IMessage request, FirstAttempt? first, CancellationToken cancellationToken)
    {
        try
        {
            return await _pipeline.ExecuteAsync(
                static (state, token) => state.Client.AttemptAsync(state.Type, state.Request, state.First?.Take(), token),
                (Client: this, Type: type, Request: request, First: first),
                cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutRejectedException e)
        {
            throw new WalrusTimeoutException(
                $"{type}: no answer within {_options.RequestTimeout.TotalSeconds:0.###} s per attempt, {_options.MaxRetries + 1} attempts", e);
        }
    }

    /// <summary>
    /// One attempt: the preferred endpoint, then wherever NOT_LEADER answers point, up to the redirect budget.
    /// With <paramref name="first"/>, its outcome stands for the first send (the fast path already made it).
    /// </summary>
    private async ValueTask<(IMessage Response, string Endpoint)> AttemptAsync(MessageType type, IMessage request, FirstAttempt? first, CancellationToken cancellationToken)
    {
        var expected = ResponseTypeOf(type);
        var endpoint = first?.Endpoint ?? PickEndpoint();
        for (var redirects = 0; ; redirects++)
        {
            MessageType responseType;
            IMessage response;
            if (first is not null)
            {
                (responseType, response) = first.Outcome(this, cancellationToken);
                first = null;
            }
            else
            {
                (responseType, response) = await SendOnceAsync(endpoint, type, request, cancellationToken).ConfigureAwait(false);
            }

            var info = ExpectResponse(responseType, response, expected, endpoint.Key);
            if (info.Status == ResponseStatus.NotLeader)
            {
                var leader = await FindLeaderAsync(endpoint, info, cancellationToken).ConfigureAwait(false);
                if (leader is null || leader == endpoint)
                {
                    AvoidEndpoint(endpoint.Key);
                    throw new WalrusUnavailableException($"{endpoint.Key} is not the leader and knows no leader (election in progress?)");
                }

                Volatile.Write(ref _leaderHint, leader.Key);
                if (redirects >= _options.MaxRedirects)
                {
                    throw new WalrusUnavailableException($"still not at the leader after {redirects} redirects; last pointed to {leader.Key}");
                }

                LogRedirect(_logger, endpoint.Key, leader.Key);
                endpoint = leader;
                continue;
            }

            if (info.Status == ResponseStatus.Ok)
            {
                NoteLeader(info.LeaderClientAddress);
            }
            else if (info.Status is ResponseStatus.Unavailable or ResponseStatus.Retry)
            {
                AvoidEndpoint(endpoint.Key);
            }

            ProtoMapping.ThrowIfError(info, endpoint.Key);
            return (response, endpoint.Key);
        }
    }

    /// <summary>Sends one request to one endpoint through its circuit breaker; connection failures become a transient <see cref="WalrusUnavailableException"/>.</summary>
    private async ValueTask<(MessageType Type, IMessage Message)> SendOnceAsync(EndpointState endpoint, MessageType type, IMessage request, CancellationToken cancellationToken)
    {
        try
        {
            return await endpoint.Breaker.ExecuteAsync(
                static async (state, token) =>
                {
                    var connection = await state.Endpoint.GetConnectionAsync(token).ConfigureAwait(false);
                    return await connection.RequestAsync(state.Type, state.Request, token).ConfigureAwait(false);
                },
                (Endpoint: endpoint, Type: type, Request: request),
                cancellationToken).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // translated or rethrown as it is
        catch (Exception e)
#pragma warning restore CA1031
        {
            if (TranslateSendFailure(endpoint, e, cancellationToken) is { } translated)
            {
                throw translated;
            }

            throw;
        }
    }

    /// <summary>
    /// What a failed send becomes: a transient <see cref="WalrusUnavailableException"/> for an open circuit or a
    /// connection failure (and the endpoint is avoided), or null to rethrow the failure as it is.
    /// </summary>
    private WalrusUnavailableException? TranslateSendFailure(EndpointState endpoint, Exception failure, CancellationToken cancellationToken)
    {
        if (failure is BrokenCircuitException)
        {
            AvoidEndpoint(endpoint.Key);
            return new WalrusUnavailableException($"{endpoint.Key}: skipped after repeated connection failures (circuit open)", failure);
        }

        if (EndpointState.IsConnectionFailure(failure) && !cancellationToken.IsCancellationRequested && Volatile.Read(ref _disposed) == 0)
        {
            AvoidEndpoint(endpoint.Key);
            return new WalrusUnavailableException($"{endpoint.Key}: {failure.Message}", failure);
        }

        return null;
    }

    /// <summary>Remembers the leader an OK answer names (when it names one); parses an address only when it differs from the last one.</summary>
    private void NoteLeader(string address)
    {
        if (address.Length > 0 && CachedEndpoint(address) is { } known && !ReferenceEquals(Volatile.Read(ref _leaderHint), known.Key))
        {
            Volatile.Write(ref _leaderHint, known.Key);
        }
    }

    /// <summary><see cref="TryEndpoint"/> with a one-entry cache: answers name the same leader address again and again.</summary>
    private EndpointState? CachedEndpoint(string address)
    {
        if (Volatile.Read(ref _lastLeaderAddress) is { } cached && string.Equals(cached.Address, address, StringComparison.Ordinal))
        {
            return cached.Endpoint;
        }

        var endpoint = TryEndpoint(address);
        Volatile.Write(ref _lastLeaderAddress, new ParsedAddress(address, endpoint));
        return endpoint;
    }

    /// <summary>Where a NOT_LEADER answer points: its leader address, or else the leader id looked up in the agent's status.</summary>
    private async ValueTask<EndpointState?> FindLeaderAsync(EndpointState endpoint, ResponseInfo info, CancellationToken cancellationToken)
    {
        if (info.LeaderClientAddress.Length > 0)
        {
            return CachedEndpoint(info.LeaderClientAddress);
        }

        if (info.LeaderId == 0)
        {
            return null;
        }

        var (type, message) = await SendOnceAsync(endpoint, MessageType.StatusRequest, new StatusRequest(), cancellationToken).ConfigureAwait(false);
        if (type != MessageType.StatusResponse || message is not StatusResponse status)
        {
            return null;
        }

        foreach (var peer in status.Peers)
        {
            if (peer.NodeId == info.LeaderId && peer.Addresses.TryGetValue(ClientAddressKey, out var address))
            {
                return TryEndpoint(address);
            }
        }

        return null;
    }

    /// <summary>
    /// The leader when known and reachable; else the current configured endpoint (sticky, so that one connection
    /// serves every request), moving on to the next one whose circuit is closed when it is unreachable.
    /// </summary>
    private EndpointState PickEndpoint()
    {
        if (Volatile.Read(ref _leaderHint) is { } hint && _endpoints.TryGetValue(hint, out var leader) && !leader.IsBroken)
        {
            return leader;
        }

        var start = (uint)Volatile.Read(ref _cursor);
        var count = (uint)_configured.Length;
        for (uint i = 0; i < count; i++)
        {
            var candidate = _endpoints[_configured[(start + i) % count]];
            if (!candidate.IsBroken)
            {
                if (i != 0)
                {
                    Interlocked.CompareExchange(ref _cursor, (int)(start + i), (int)start);
                }

                return candidate;
            }
        }

        return _endpoints[_configured[start % count]];
    }

    /// <summary>
    /// Stops preferring an endpoint that failed or cannot serve: forgets it as leader, and when it is the current
    /// configured endpoint, moves on to the next one.
    /// </summary>
    private void AvoidEndpoint(string endpoint)
    {
        Interlocked.CompareExchange(ref _leaderHint, null, endpoint);
        var current = Volatile.Read(ref _cursor);
        if (string.Equals(_configured[(uint)current % (uint)_configured.Length], endpoint, StringComparison.Ordinal))
        {
            Interlocked.CompareExchange(ref _cursor, current + 1, current);
        }
    }

    private EndpointState GetEndpoint(EndpointAddress address) =>
        _endpoints.GetOrAdd(address.ToString(), static (_, s) => new EndpointState(s.Address, s.Client._transport, s.Client._options, s.Client._logger), (Address: address, Client: this));

    /// <summary>The endpoint for an address an agent reported, or null when it is not a dialable <c>host:port</c>.</summary>
    private EndpointState? TryEndpoint(string address)
    {
        try
        {
            var parsed = EndpointAddress.Parse(address);
            if (IPAddress.TryParse(parsed.Host, out var ip) && (ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any)))
            {
                return null;
            }

            return GetEndpoint(parsed);
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    /// <summary>One attempt at exactly <paramref name="endpoint"/> (no retries, no redirects), within the request timeout; an error answer throws its typed exception.</summary>
    private async Task<(string Endpoint, IMessage Message)> AskOneAsync(string endpoint, MessageType type, IMessage request, CancellationToken cancellationToken)
    {
        var state = GetEndpoint(EndpointAddress.Parse(endpoint));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.RequestTimeout);
        try
        {
            var (responseType, message) = await SendOnceAsync(state, type, request, timeout.Token).ConfigureAwait(false);
            ProtoMapping.ThrowIfError(ExpectResponse(responseType, message, ResponseTypeOf(type), state.Key), state.Key);
            return (state.Key, message);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new WalrusTimeoutException($"{state.Key}: no answer within {_options.RequestTimeout.TotalSeconds:0.###} s", e);
        }
    }

    private static ResponseInfo ExpectResponse(MessageType type, IMessage message, MessageType expected, string endpoint)
    {
        if (type != expected || ResponseInfo.Of(type, message) is not { } info)
        {
            throw new WalrusUnavailableException($"{endpoint}: answered with {type} where {expected} was expected");
        }

        return info;
    }

    private static MessageType ResponseTypeOf(MessageType request) => request switch
    {
        MessageType.AppendRequest or MessageType.AppendBatchRequest => MessageType.AppendResponse,
        MessageType.ReadRequest => MessageType.ReadResponse,
        MessageType.StatusRequest => MessageType.StatusResponse,
        MessageType.MembersRequest => MessageType.MembersResponse,
        MessageType.TransferLeaderRequest => MessageType.TransferLeaderResponse,
        MessageType.CompactRequest => MessageType.CompactResponse,
        MessageType.BackupRequest => MessageType.BackupResponse,
        MessageType.MemberChangeRequest => MessageType.MemberChangeResponse,
        MessageType.ConsistencyCheckRequest => MessageType.ConsistencyCheckResponse,
        MessageType.KeyringRequest => MessageType.KeyringResponse,
        MessageType.AuthRequest => MessageType.AuthResponse,
        MessageType.StreamInfoRequest => MessageType.StreamInfoResponse,
        MessageType.ConsumerRequest => MessageType.ConsumerResponse,
        MessageType.FetchRequest => MessageType.FetchResponse,
        MessageType.AckRequest => MessageType.AckResponse,
        _ => throw new ArgumentOutOfRangeException(nameof(request), request, "not a unary client request"),
    };

    /// <summary>An address an agent reported and the endpoint it parsed to (null: not dialable).</summary>
    private sealed record ParsedAddress(string Address, EndpointState? Endpoint);

    /// <summary>
    /// The outcome of a fast-path attempt that was not an OK answer: the pipeline's first attempt takes it over
    /// (once) instead of sending again, so that attempt counts, redirects and errors are those of a pipeline attempt.
    /// </summary>
    private sealed class FirstAttempt(EndpointState endpoint, MessageType responseType, IMessage? response, ExceptionDispatchInfo? failure)
    {
        private bool _taken;

        public EndpointState Endpoint { get; } = endpoint;

        /// <summary>This, the first time; null afterwards (retries send again).</summary>
        public FirstAttempt? Take()
        {
            if (_taken)
            {
                return null;
            }

            _taken = true;
            return this;
        }

        /// <summary>The answer, or the failure thrown as <see cref="SendOnceAsync"/> would have thrown it.</summary>
        public (MessageType Type, IMessage Message) Outcome(WalrusClient client, CancellationToken cancellationToken)
        {
            if (failure is not null)
            {
                if (client.TranslateSendFailure(Endpoint, failure.SourceException, cancellationToken) is { } translated)
                {
                    throw translated;
                }

                failure.Throw();
            }

            return (responseType, response!);
        }
    }

    [LoggerMessage(EventId = 3011, Level = LogLevel.Debug, Message = "walrus client: {Endpoint} is not the leader; redirecting to {Leader}")]
    private static partial void LogRedirect(ILogger logger, string endpoint, string leader);
}
