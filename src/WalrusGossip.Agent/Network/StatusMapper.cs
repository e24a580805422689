using WalrusGossip.Agent.Http;
using WalrusGossip.Membership;

namespace WalrusGossip.Agent.Network;

/// <summary>Maps the agent's status to the wire messages (status and members).</summary>
internal static class StatusMapper
{
    public static StatusResponse ToProto(AgentStatus status, ulong requestId, Func<ulong, string?> clientAddressOf, string transportMode)
    {
        var node = status.Node;
        var response = new StatusResponse
        {
            RequestId = requestId,
            Status = ResponseStatus.Ok,
            NodeId = node.NodeId,
            Name = node.NodeId.ToString(System.Globalization.CultureInfo.InvariantCulture),
            Role = Role(status.RoleName),
            Term = node.Term,
            CommitIndex = node.CommitIndex,
            AppliedIndex = node.AppliedIndex,
            FirstIndex = node.FirstIndex,
            LastIndex = node.LastIndex,
            LeaderId = node.LeaderId,
            TransportMode = transportMode,
            AgentVersion = Hosting.AgentVersion.Current,
            Consistency = new ConsistencyStatus
            {
                Checks = (ulong)status.Consistency.Checks,
                Mismatches = (ulong)status.Consistency.Mismatches,
                LastMismatchNode = status.Consistency.LastMismatch?.PeerId ?? 0,
                LastMismatchFirstIndex = status.Consistency.LastMismatch?.FirstIndex ?? 0,
                LastMismatchLastIndex = status.Consistency.LastMismatch?.LastIndex ?? 0,
            },
        };
        foreach (var (key, value) in status.Addresses)
        {
            response.Addresses[key] = value;
        }

        foreach (var voter in node.Voters)
        {
            response.Peers.Add(Peer(voter, voter: true, status, clientAddressOf));
        }

        foreach (var learner in node.Learners)
        {
            response.Peers.Add(Peer(learner, voter: false, status, clientAddressOf));
        }

        return response;
    }

    public static MembersResponse ToMembers(AgentStatus status, ulong requestId)
    {
        var response = new MembersResponse { RequestId = requestId, Status = ResponseStatus.Ok };
        foreach (var m in status.Members)
        {
            var info = new MemberInfo
            {
                Name = m.Name,
                Address = m.Address,
                State = m.State switch
                {
                    MemberState.Alive => SwimMemberState.Alive,
                    MemberState.Suspect => SwimMemberState.Suspect,
                    MemberState.Dead => SwimMemberState.Dead,
                    _ => SwimMemberState.Left,
                },
                Incarnation = m.Incarnation,
                LastUpdateAgeMs = (ulong)Math.Max(0, m.LastUpdateAge.TotalMilliseconds),
            };
            foreach (var (key, value) in m.Metadata)
            {
                info.Metadata[key] = value;
            }

            response.Members.Add(info);
        }

        return response;
    }

    private static PeerStatus Peer(ulong id, bool voter, AgentStatus status, Func<ulong, string?> clientAddressOf)
    {
        var peer = new PeerStatus { NodeId = id, Name = id.ToString(System.Globalization.CultureInfo.InvariantCulture), Voter = voter };
        if (status.Progress.TryGetValue(id, out var match))
        {
            peer.MatchIndex = match;
        }

        foreach (var m in status.Members)
        {
            if (m.Name == peer.Name)
            {
                foreach (var (key, value) in m.Metadata)
                {
                    if (key is MetadataKeys.ClientAddress or MetadataKeys.PeerAddress or MetadataKeys.GossipAddress or MetadataKeys.HttpAddress)
                    {
                        peer.Addresses[key] = value;
                    }
                }

                if (m.Metadata.TryGetValue(MetadataKeys.RaftRole, out var role))
                {
                    peer.Role = Role(role);
                }
            }
        }

        if (!peer.Addresses.ContainsKey(MetadataKeys.ClientAddress) && clientAddressOf(id) is { } client)
        {
            peer.Addresses[MetadataKeys.ClientAddress] = client;
        }

        return peer;
    }

    private static ReplicaRole Role(string name) => name switch
    {
        "leader" => ReplicaRole.Leader,
        "candidate" or "precandidate" => ReplicaRole.Candidate,
        "learner" => ReplicaRole.Learner,
        _ => ReplicaRole.Follower,
    };
}
