using Google.Protobuf;
using WalrusGossip.Client.Connections;
using WalrusGossip.Protocol.Messages;

namespace WalrusGossip.Client;

/// <summary>Converts between wire messages and the SDK's public types, and response statuses to exceptions.</summary>
internal static class ProtoMapping
{
    public static LogEntry ToEntry(Entry entry) =>
        new(entry.Index, entry.Term, entry.Stream.Length == 0 ? null : entry.Stream, entry.Payload.Memory, entry.StreamSequence);

    public static NodeRole ToRole(ReplicaRole role) => role switch
    {
        ReplicaRole.Follower => NodeRole.Follower,
        ReplicaRole.PreCandidate => NodeRole.PreCandidate,
        ReplicaRole.Candidate => NodeRole.Candidate,
        ReplicaRole.Leader => NodeRole.Leader,
        ReplicaRole.Learner => NodeRole.Learner,
        _ => NodeRole.Unknown,
    };

    public static MemberState ToState(SwimMemberState state) => state switch
    {
        SwimMemberState.Alive => MemberState.Alive,
        SwimMemberState.Suspect => MemberState.Suspect,
        SwimMemberState.Dead => MemberState.Dead,
        SwimMemberState.Left => MemberState.Left,
        _ => MemberState.Unknown,
    };

    public static NodeStatus ToStatus(string endpoint, StatusResponse r) => new(
        endpoint,
        r.NodeId,
        r.Name,
        ToRole(r.Role),
        r.Term,
        r.CommitIndex,
        r.AppliedIndex,
        r.FirstIndex,
        r.LastIndex,
        r.LeaderId,
        new Dictionary<string, string>(r.Addresses, StringComparer.Ordinal),
        [.. r.Peers.Select(p => new PeerStatus(p.NodeId, p.Name, ToRole(p.Role), p.MatchIndex, p.NextIndex, p.Voter, new Dictionary<string, string>(p.Addresses, StringComparer.Ordinal)))],
        r.TransportMode,
        r.AgentVersion)
    {
        Consistency = r.Consistency is { } c
            ? new ConsistencySummary(c.Checks, c.Mismatches, c.LastMismatchNode, c.LastMismatchFirstIndex, c.LastMismatchLastIndex)
            : new ConsistencySummary(0, 0, 0, 0, 0),
        CertificateNotAfter = r.CertificateNotAfterUnix > 0 ? DateTimeOffset.FromUnixTimeSeconds(r.CertificateNotAfterUnix) : null,
    };

    public static ClusterMember ToMember(MemberInfo m) => new(
        m.Name,
        m.Address,
        ToState(m.State),
        m.Incarnation,
        new Dictionary<string, string>(m.Metadata, StringComparer.Ordinal),
        TimeSpan.FromMilliseconds(m.LastUpdateAgeMs));

    public static ByteString ToByteString(ReadOnlyMemory<byte> payload) =>
        payload.IsEmpty ? ByteString.Empty : ByteString.CopyFrom(payload.Span);

    /// <summary>
    /// Throws the typed exception for a non-OK status other than NOT_LEADER (which the caller handles by redirecting).
    /// </summary>
    /// <param name="info">The response's common fields.</param>
    /// <param name="endpoint">Who answered, for the message.</param>
    /// <exception cref="WalrusException">The status is not OK.</exception>
    public static void ThrowIfError(in ResponseInfo info, string endpoint)
    {
        var detail = info.Message.Length > 0 ? info.Message : info.Status.ToString();
        var text = $"{endpoint}: {detail}";
        switch (info.Status)
        {
            case ResponseStatus.Ok:
                return;
            case ResponseStatus.Unavailable:
            case ResponseStatus.Retry:
            case ResponseStatus.NotLeader:
                throw new WalrusUnavailableException(text);
            case ResponseStatus.Timeout:
                throw new WalrusTimeoutException(text);
            case ResponseStatus.Overloaded:
                throw new WalrusOverloadedException(text);
            case ResponseStatus.InvalidArgument:
                throw new WalrusInvalidArgumentException(text);
            case ResponseStatus.NotFound:
                throw new WalrusNotFoundException(text);
            case ResponseStatus.Compacted:
                throw new WalrusCompactedException(text);
            case ResponseStatus.SessionExpired:
                throw new WalrusSessionExpiredException(text);
            case ResponseStatus.PermissionDenied:
                throw new WalrusPermissionDeniedException(text);
            default:
                throw new WalrusException($"{endpoint}: answered with status {info.Status}, which this client does not know");
        }
    }
}
