namespace WalrusGossip.Membership;

/// <summary>
/// What the local node believes about a member (SWIM §4.2 adds <see cref="Suspect"/> between
/// alive and failed; <see cref="Left"/> is a graceful departure).
/// </summary>
public enum MemberState
{
    /// <summary>Answering probes, or refuted the last suspicion with a higher incarnation.</summary>
    Alive = 0,

    /// <summary>Missed a probe; declared dead when the suspicion timeout expires unless it refutes.</summary>
    Suspect = 1,

    /// <summary>Suspicion expired. Kept as a tombstone for <see cref="MembershipOptions.TombstoneRetention"/>.</summary>
    Dead = 2,

    /// <summary>Announced a graceful leave. Kept as a tombstone like <see cref="Dead"/>.</summary>
    Left = 3,
}
