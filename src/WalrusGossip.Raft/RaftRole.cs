namespace WalrusGossip.Raft;

/// <summary>The role a node currently plays (paper §5.1; PreCandidate is dissertation §9.6).</summary>
public enum RaftRole
{
    /// <summary>Passive: answers leaders and candidates.</summary>
    Follower = 0,

    /// <summary>Asking for pre-votes without raising its term (dissertation §9.6).</summary>
    PreCandidate = 1,

    /// <summary>Asking for votes in a new term (paper §5.2).</summary>
    Candidate = 2,

    /// <summary>Accepts proposals and replicates the log (paper §5.3).</summary>
    Leader = 3,
}
