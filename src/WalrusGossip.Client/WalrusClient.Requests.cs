using System.Net;
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
    /// <summary>Runs a request through the retry + timeout pipeline.</summary>
    /// <returns>The OK response and the endpoint that gave it.</returns>
    private async Task<(IMessage Response, string Endpoint)> ExecuteAsync(MessageType type, IMessage request, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        try
        {
            return await _pipeline.ExecuteAsync(
                static (state, token) => state.Client.AttemptAsync(state.Type, state.Request, token),
                (Client: this, Type: type, Request: request),
                cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutRejectedException e)
        {
            throw new WalrusTimeoutException(
                $"{type}: no answer within {_options.RequestTimeout.TotalSeconds:0.###} s per attempt, {_options.MaxRetries + 1} attempts", e);
        }
    }

    /// <summary>One attempt: the preferred endpoint, then wherever NOT_LEADER answers point, up to the redirect budget.</summary>
    private async ValueTask<(IMessage Response, string Endpoint)> AttemptAsync(MessageType type, IMessage request, CancellationToken cancellationToken)
    {
        var expected = ResponseTypeOf(type);
        var endpoint = PickEndpoint();
        for (var redirects = 0; ; redirects++)
        {
            var (responseType, response) = await SendOnceAsync(endpoint, type, request, cancellationToken).ConfigureAwait(false);
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

            if (info.Status == ResponseStatus.Ok && info.LeaderClientAddress.Length > 0 && TryEndpoint(info.LeaderClientAddress) is { } known)
            {
                Volatile.Write(ref _leaderHint, known.Key);
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
        catch (BrokenCircuitException e)
        {
            AvoidEndpoint(endpoint.Key);
            throw new WalrusUnavailableException($"{endpoint.Key}: skipped after repeated connection failures (circuit open)", e);
        }
        catch (Exception e) when (EndpointState.IsConnectionFailure(e) && !cancellationToken.IsCancellationRequested && Volatile.Read(ref _disposed) == 0)
        {
            AvoidEndpoint(endpoint.Key);
            throw new WalrusUnavailableException($"{endpoint.Key}: {e.Message}", e);
        }
    }

    /// <summary>Where a NOT_LEADER answer points: its leader address, or else the leader id looked up in the agent's status.</summary>
    private async ValueTask<EndpointState?> FindLeaderAsync(EndpointState endpoint, ResponseInfo info, CancellationToken cancellationToken)
    {
        if (info.LeaderClientAddress.Length > 0)
        {
            return TryEndpoint(info.LeaderClientAddress);
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
            if (peer.NodeId == info.LeaderId && peer.Addresses.TryGetValue("client", out var address))
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
        _ => throw new ArgumentOutOfRangeException(nameof(request), request, "not a unary client request"),
    };

    [LoggerMessage(EventId = 3011, Level = LogLevel.Debug, Message = "walrus client: {Endpoint} is not the leader; redirecting to {Leader}")]
    private static partial void LogRedirect(ILogger logger, string endpoint, string leader);
}
