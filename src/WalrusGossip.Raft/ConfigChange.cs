namespace WalrusGossip.Raft;

/// <summary>The kind of a single-server membership change (dissertation §4.1, §4.2.1).</summary>
public enum ConfigChangeType
{
    /// <summary>Add a voter, or promote an existing learner to voter.</summary>
    AddVoter = 0,

    /// <summary>Add a non-voting learner that receives the log (new agents join this way, §4.2.1).</summary>
    AddLearner = 1,

    /// <summary>Remove a voter or learner.</summary>
    Remove = 2,

    /// <summary>Turn a voter into a learner: it keeps receiving the log but no longer votes or counts toward a quorum (§4.2.1 in reverse).</summary>
    Demote = 3,
}

/// <summary>A request to change the membership by exactly one server (dissertation §4.1).</summary>
/// <param name="Type">What to do.</param>
/// <param name="NodeId">The node affected; non-zero.</param>
public readonly record struct ConfigChange(ConfigChangeType Type, ulong NodeId);
