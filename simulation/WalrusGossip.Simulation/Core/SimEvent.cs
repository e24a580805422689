using System.Globalization;
using WalrusGossip.Raft;

namespace WalrusGossip.Simulation.Core;

/// <summary>What a scheduled event does.</summary>
internal enum EventKind
{
    /// <summary>Run one iteration of a node's <c>NodeLoop</c> (posted work waits, or its timers are due).</summary>
    Run,

    /// <summary>Deliver a Raft message to a node.</summary>
    Raft,

    /// <summary>Deliver a gossip datagram or stream message to a node.</summary>
    Gossip,

    /// <summary>Run an action at a node (a client request arriving there), posted to its loop like a network message.</summary>
    AtNode,

    /// <summary>Run a simulator action (client timers, faults, phase changes, checks).</summary>
    Action,
}

/// <summary>One entry of the scheduler's queue, ordered by (time, sequence).</summary>
internal sealed class SimEvent
{
    public TimeSpan At { get; set; }

    public long Sequence { get; set; }

    public EventKind Kind { get; init; }

    /// <summary>Target node id (1-based), 0 for simulator actions.</summary>
    public int Node { get; init; }

    /// <summary>Incarnation of the target node the event was meant for; stale when the node restarted since.</summary>
    public int Incarnation { get; init; }

    public RaftMessage? RaftMessage { get; init; }

    public string? From { get; init; }

    public bool Reliable { get; init; }

    public byte[]? Payload { get; init; }

    public Action? Run { get; init; }

    /// <summary>Short canonical description for the trace (client and fault events).</summary>
    public string? Label { get; init; }

    /// <summary>Canonical, culture-invariant text of the event for the trace and its hash.</summary>
    /// <returns>One line without the time prefix.</returns>
    public string Describe() => Kind switch
    {
        EventKind.Run => string.Create(CultureInfo.InvariantCulture, $"run n{Node}"),
        EventKind.Raft => string.Create(CultureInfo.InvariantCulture, $"raft n{Node} {RaftMessage}"),
        EventKind.Gossip => string.Create(CultureInfo.InvariantCulture, $"gossip n{Node} from={From} {(Reliable ? "stream" : "dgram")} len={Payload!.Length} h={Fnv(Payload):x16}"),
        EventKind.AtNode => string.Create(CultureInfo.InvariantCulture, $"at n{Node} {Label}"),
        _ => Label ?? "action",
    };

    /// <summary>FNV-1a 64 over bytes: a stable content fingerprint for trace lines (not a security hash).</summary>
    /// <param name="bytes">Input.</param>
    /// <returns>The hash.</returns>
    public static ulong Fnv(ReadOnlySpan<byte> bytes)
    {
        var hash = 14695981039346656037UL;
        foreach (var b in bytes)
        {
            hash = (hash ^ b) * 1099511628211UL;
        }

        return hash;
    }
}
