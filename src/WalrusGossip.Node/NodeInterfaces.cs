using WalrusGossip.Raft;

namespace WalrusGossip.Node;

/// <summary>
/// What a <see cref="WalrusNode"/> sends. The agent implements it over QUIC/TCP streams and UDP; the simulator over
/// its simulated network. Calls come from the node loop's thread and must not block.
/// </summary>
public interface INodeTransport
{
    /// <summary>Sends a Raft message to node <see cref="RaftMessage.To"/>. Loss is tolerated; Raft retries.</summary>
    /// <param name="message">The message; the transport may keep a reference to it.</param>
    void SendRaft(RaftMessage message);

    /// <summary>Sends a gossip message to a gossip address.</summary>
    /// <param name="address">Gossip address of the destination, as the membership layer knows it.</param>
    /// <param name="reliable">True for stream messages (push-pull), false for datagrams (probes, acks, piggybacked updates).</param>
    /// <param name="payload">Encoded bytes, owned by the transport from now on.</param>
    void SendGossip(string address, bool reliable, byte[] payload);

    /// <summary>
    /// True when the node with id <paramref name="nodeId"/> has proven it holds a node certificate of this cluster that
    /// names it (the agent: a mutual-TLS handshake on a Raft link dialled to it, whose certificate carries
    /// <c>walrus://node/ID</c>). Autopilot adds a gossip member to Raft as a learner only when this holds, so a host that
    /// knows the gossip key but holds no certificate joins the membership view, never the configuration (issue 18).
    /// Called on the node loop; must not block. The default (transports without certificates, such as in-process tests)
    /// certifies every id.
    /// </summary>
    /// <param name="nodeId">A Raft node id, at least 1.</param>
    /// <returns>Whether the id is certified now.</returns>
    bool IsPeerCertified(ulong nodeId) => true;
}

/// <summary>A monotonic clock. The agent uses the system's; the simulator its virtual time.</summary>
public interface INodeClock
{
    /// <summary>Time since an arbitrary fixed origin; never decreases.</summary>
    TimeSpan Now { get; }
}

/// <summary>
/// Decides when a <see cref="NodeLoop"/> driven by its owner runs. The simulator implements it with events in virtual
/// time; the agent uses the loop's own dedicated thread instead.
/// </summary>
public interface INodeScheduler
{
    /// <summary>
    /// Work was posted to the loop: arrange for <see cref="NodeLoop.RunOnce"/> to be called soon, on the loop's
    /// thread. Called from any thread, possibly many times before the loop runs; must not block or run the loop inline.
    /// </summary>
    void Wake();
}
