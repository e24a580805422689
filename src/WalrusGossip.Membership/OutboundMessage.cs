namespace WalrusGossip.Membership;

/// <summary>How an <see cref="OutboundMessage"/> must be carried.</summary>
public enum OutboundKind
{
    /// <summary>
    /// Unreliable, unordered datagram of at most <see cref="MembershipOptions.MaxDatagramBytes"/>
    /// (UDP): ping, ping-req, ack, nack and piggybacked updates. Loss is expected and tolerated.
    /// Deliver with <see cref="MembershipNode.ReceiveDatagram"/>.
    /// </summary>
    Datagram = 0,

    /// <summary>
    /// Reliable message of at most <see cref="MembershipOptions.MaxStreamMessageBytes"/> (a stream
    /// connection): push-pull full-state exchange. Deliver with <see cref="MembershipNode.ReceiveStream"/>.
    /// A failed connection is simply dropped; the next push-pull interval retries.
    /// </summary>
    Stream = 1,
}

/// <summary>
/// A message the host must send, drained with <see cref="MembershipNode.DrainMessages"/>.
/// </summary>
/// <param name="To">Destination gossip address, as announced by the member or given as a seed.</param>
/// <param name="Kind">Datagram or stream.</param>
/// <param name="Payload">Encoded bytes; owned by the receiver of this value, never reused by the node.</param>
public readonly record struct OutboundMessage(string To, OutboundKind Kind, byte[] Payload);
