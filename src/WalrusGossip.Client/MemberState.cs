namespace WalrusGossip.Client;

/// <summary>State of a member in the SWIM view.</summary>
public enum MemberState
{
    /// <summary>Not reported.</summary>
    Unknown = 0,

    /// <summary>Answering probes.</summary>
    Alive = 1,

    /// <summary>Missed probes; declared dead unless it refutes in time (SWIM with Lifeguard).</summary>
    Suspect = 2,

    /// <summary>Declared dead.</summary>
    Dead = 3,

    /// <summary>Left the group gracefully.</summary>
    Left = 4,
}
