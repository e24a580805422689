using WalrusGossip.Node;
using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;
using WalrusGossip.Transport;

namespace WalrusGossip.Agent.Network;

/// <summary>Stream info and listings (issue 19), answered from the committed view's stream index.</summary>
public sealed partial class ClientService
{
    /// <summary>
    /// Answers a <see cref="StreamInfoRequest"/> at its read point: one stream's first and last sequence, entries, bytes
    /// and log indexes (NOT_FOUND when it never had an entry), or with an empty name every stream the caller may read.
    /// </summary>
    private async Task StreamInfoAsync(IFrameConnection connection, StreamInfoRequest request, ClientPrincipal? principal, CancellationToken cancellationToken)
    {
        var response = new StreamInfoResponse { RequestId = request.RequestId };
        var point = await ReadPointAsync(request.Consistency, cancellationToken).ConfigureAwait(false);
        if (point.Status != RequestStatus.Ok || _currentLoop() is not { } loop)
        {
            var failed = new ReadResponse();
            FillReadFailure(failed, point.Status == RequestStatus.Ok ? new ReadPoint(RequestStatus.NotLeader, 0, 0) : point);
            (response.Status, response.Message, response.LeaderId, response.LeaderClientAddress) = (failed.Status, failed.Message, failed.LeaderId, failed.LeaderClientAddress);
            Reply(connection, MessageType.StreamInfoResponse, response);
            return;
        }

        var view = loop.Committed;
        var bound = Math.Min(point.Bound, view.AppliedIndex);
        response.AppliedIndex = bound;
        if (request.Stream.Length > 0)
        {
            if (view.Streams.Info(request.Stream, bound) is { LastSequence: > 0 } info)
            {
                response.Status = ResponseStatus.Ok;
                response.Streams.Add(Describe(info));
            }
            else
            {
                response.Status = ResponseStatus.NotFound;
                response.Message = $"stream '{request.Stream}' has no entries";
            }
        }
        else
        {
            response.Status = ResponseStatus.Ok;
            foreach (var info in view.Streams.List(bound))
            {
                if (info.LastSequence > 0 && (principal is null || Authorizer is null || Authorizer.Allows(principal, Permission.Read, info.Name)))
                {
                    response.Streams.Add(Describe(info));
                }
            }
        }

        Reply(connection, MessageType.StreamInfoResponse, response);
    }

    private static StreamDescription Describe(StreamInfo info) => new()
    {
        Name = info.Name,
        FirstSequence = info.FirstSequence,
        LastSequence = info.LastSequence,
        Entries = info.Entries,
        Bytes = info.Bytes,
        FirstIndex = info.FirstIndex,
        LastIndex = info.LastIndex,
    };
}
