namespace WalrusGossip.Client;

/// <summary>Raft role of an agent as reported by status.</summary>
public enum NodeRole
{
    /// <summary>Not reported.</summary>
    Unknown = 0,

    /// <summary>Follows a leader.</summary>
    Follower = 1,

    /// <summary>Checking whether an election could succeed (PreVote, Raft dissertation §9.6).</summary>
    PreCandidate = 2,

    /// <summary>Running an election.</summary>
    Candidate = 3,

    /// <summary>The leader.</summary>
    Leader = 4,

    /// <summary>Receives the log but does not vote; promoted once caught up.</summary>
    Learner = 5,
}
