namespace WalrusGossip.Membership;

/// <summary>What changed about a member in the local view.</summary>
public enum MembershipEventKind
{
    /// <summary>A member was seen for the first time, or came back after being dead or left.</summary>
    Joined = 0,

    /// <summary>An alive member's metadata or address changed (it raised its incarnation to do so).</summary>
    Updated = 1,

    /// <summary>A member became suspect (SWIM §4.2).</summary>
    Suspect = 2,

    /// <summary>A suspected member refuted the suspicion and is alive again.</summary>
    Alive = 3,

    /// <summary>A member was declared dead after its suspicion timed out (here or elsewhere).</summary>
    Dead = 4,

    /// <summary>A member left gracefully.</summary>
    Left = 5,
}

/// <summary>
/// One change in the local view, drained with <see cref="MembershipNode.DrainEvents"/>.
/// </summary>
/// <param name="Kind">What happened.</param>
/// <param name="Member">Member name (unique in the cluster).</param>
/// <param name="Address">Member's gossip address as last announced.</param>
/// <param name="Incarnation">Member's incarnation number after the change.</param>
/// <param name="Metadata">Member's metadata after the change; never mutated afterwards.</param>
/// <param name="At">Virtual time of the change, as passed to the node.</param>
public readonly record struct MembershipEvent(
    MembershipEventKind Kind,
    string Member,
    string Address,
    ulong Incarnation,
    IReadOnlyDictionary<string, string> Metadata,
    TimeSpan At);
