namespace WalrusGossip.Membership;

/// <summary>The local node's record of one member (including itself).</summary>
internal sealed class Member
{
    public Member(string name, string address, ulong incarnation, IReadOnlyDictionary<string, string> metadata, TimeSpan now)
    {
        Name = name;
        Address = address;
        Incarnation = incarnation;
        Metadata = metadata;
        State = MemberState.Alive;
        StateChangedAt = now;
        UpdatedAt = now;
    }

    public string Name { get; }

    public string Address { get; set; }

    public ulong Incarnation { get; set; }

    public MemberState State { get; set; }

    public IReadOnlyDictionary<string, string> Metadata { get; set; }

    /// <summary>When <see cref="State"/> last changed; tombstone retention counts from here.</summary>
    public TimeSpan StateChangedAt { get; set; }

    /// <summary>When anything about this entry last changed (snapshot's last-update age).</summary>
    public TimeSpan UpdatedAt { get; set; }

    /// <summary>Open suspicion while <see cref="State"/> is <see cref="MemberState.Suspect"/>.</summary>
    public Suspicion? Suspicion { get; set; }

    public bool IsLive => State is MemberState.Alive or MemberState.Suspect;
}
