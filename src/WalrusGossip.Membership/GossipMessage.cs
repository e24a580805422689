namespace WalrusGossip.Membership;

/// <summary>Wire type byte of each message (see <see cref="MessageCodec"/> for the layout).</summary>
internal enum MessageType : byte
{
    Ping = 1,
    PingReq = 2,
    Ack = 3,
    Nack = 4,
    Suspect = 5,
    Alive = 6,
    Dead = 7,
    Left = 8,
    PushPull = 9,
}

/// <summary>
/// One decoded gossip message. A flat struct rather than a class hierarchy so a datagram decodes
/// into a reused list without per-message objects. Which fields are meaningful depends on
/// <see cref="Type"/>:
/// <list type="bullet">
/// <item>Ping: Seq, Member (target name), From (sender name), Address (sender address).</item>
/// <item>PingReq: Seq, Member (target name), Address (target address), From (requester), WantNack.</item>
/// <item>Ack / Nack: Seq.</item>
/// <item>Suspect / Dead: Incarnation, Member, From (the accuser).</item>
/// <item>Alive: Incarnation, Member, Address, and either Metadata (built locally) or, when decoded,
/// the position of the still-encoded metadata section in the received buffer (MetadataStart,
/// MetadataLength) or MetadataTooLarge. Metadata is only materialised when the update is applied,
/// so stale gossip about known members decodes without allocating.</item>
/// <item>Left: Incarnation, Member.</item>
/// </list>
/// </summary>
internal struct GossipMessage
{
    public MessageType Type;
    public uint Seq;
    public ulong Incarnation;
    public string Member;
    public string Address;
    public string From;
    public bool WantNack;
    public IReadOnlyDictionary<string, string>? Metadata;
    public int MetadataStart;
    public int MetadataLength;
    public bool MetadataTooLarge;

    public static GossipMessage Ping(uint seq, string target, string from, string fromAddress) =>
        new() { Type = MessageType.Ping, Seq = seq, Member = target, From = from, Address = fromAddress };

    public static GossipMessage PingReq(uint seq, string target, string targetAddress, string from, bool wantNack) =>
        new() { Type = MessageType.PingReq, Seq = seq, Member = target, Address = targetAddress, From = from, WantNack = wantNack };

    public static GossipMessage Ack(uint seq) => new() { Type = MessageType.Ack, Seq = seq, Member = "", Address = "", From = "" };

    public static GossipMessage Nack(uint seq) => new() { Type = MessageType.Nack, Seq = seq, Member = "", Address = "", From = "" };

    public static GossipMessage Suspect(ulong incarnation, string member, string from) =>
        new() { Type = MessageType.Suspect, Incarnation = incarnation, Member = member, Address = "", From = from };

    public static GossipMessage Dead(ulong incarnation, string member, string from) =>
        new() { Type = MessageType.Dead, Incarnation = incarnation, Member = member, Address = "", From = from };

    public static GossipMessage Left(ulong incarnation, string member) =>
        new() { Type = MessageType.Left, Incarnation = incarnation, Member = member, Address = "", From = member };

    public static GossipMessage Alive(ulong incarnation, string member, string address, IReadOnlyDictionary<string, string>? metadata) =>
        new() { Type = MessageType.Alive, Incarnation = incarnation, Member = member, Address = address, From = member, Metadata = metadata };
}

/// <summary>
/// One member's state inside a push-pull exchange. When encoding, <see cref="Metadata"/> holds the
/// map; when decoded it is null and the Metadata* properties locate the encoded section in the
/// received buffer (see <see cref="GossipMessage"/>).
/// </summary>
internal readonly record struct PushPullEntry(
    string Name,
    string Address,
    ulong Incarnation,
    MemberState State,
    IReadOnlyDictionary<string, string>? Metadata)
{
    public int MetadataStart { get; init; }

    public int MetadataLength { get; init; }

    public bool MetadataTooLarge { get; init; }
}
