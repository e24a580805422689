using WalrusGossip.Node;
using WalrusGossip.Raft;

namespace WalrusGossip.Simulation.Core;

/// <summary>
/// The simulated network: every ordered pair of nodes is a link with a fixed base latency (0.5-5 ms) plus jitter;
/// faults add drops, duplicates, delay spikes (which reorder messages) and blocked links (partitions, one-way too).
/// A message to a node that restarted after it was sent is lost, as on a broken connection.
/// </summary>
internal sealed partial class ClusterSimulation
{
    private readonly Random _network;
    private int[,] _baseLatencyMicros = new int[0, 0];
    private bool[,] _blocked = new bool[0, 0];
    private double _dropRate;
    private double _duplicateRate;
    private double _spikeRate;

    private void InitNetwork()
    {
        var n = _options.Nodes;
        _baseLatencyMicros = new int[n + 1, n + 1];
        _blocked = new bool[n + 1, n + 1];
        for (var a = 1; a <= n; a++)
        {
            for (var b = 1; b <= n; b++)
            {
                _baseLatencyMicros[a, b] = 500 + _network.Next(4500);
            }
        }
    }

    /// <summary>True when any link is blocked.</summary>
    public bool Partitioned
    {
        get
        {
            foreach (var blocked in _blocked)
            {
                if (blocked)
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>Blocks or unblocks the link <paramref name="from"/> → <paramref name="to"/>.</summary>
    /// <param name="from">Sender id.</param>
    /// <param name="to">Receiver id.</param>
    /// <param name="blocked">New state.</param>
    public void SetBlocked(int from, int to, bool blocked) => _blocked[from, to] = blocked;

    /// <summary>Sets the network's fault rates (probabilities per message).</summary>
    /// <param name="drop">Drop probability.</param>
    /// <param name="duplicate">Duplication probability.</param>
    /// <param name="spike">Probability of a 10-150 ms delay spike.</param>
    public void SetNetworkFaults(double drop, double duplicate, double spike)
    {
        _dropRate = drop;
        _duplicateRate = duplicate;
        _spikeRate = spike;
    }

    /// <summary>Unblocks every link and clears drop, duplicate and spike rates.</summary>
    public void HealNetwork()
    {
        Array.Clear(_blocked);
        SetNetworkFaults(0, 0, 0);
    }

    private void Send(SimNode from, int to, Func<int, SimEvent> build)
    {
        var target = _nodes[to - 1];
        if (_blocked[from.Id, to] || !target.Up || _network.NextDouble() < _dropRate)
        {
            Stats.MessagesDropped++;
            return;
        }

        var copies = _network.NextDouble() < _duplicateRate ? 2 : 1;
        for (var i = 0; i < copies; i++)
        {
            // Integer arithmetic only, so every platform computes the same delays: base + triangular jitter (0-2 ms).
            long delayMicros = _baseLatencyMicros[from.Id, to] + _network.Next(1000) + _network.Next(1000);
            if (_network.NextDouble() < _spikeRate)
            {
                delayMicros += 10_000 + _network.Next(140_000);
            }

            Schedule(build(target.Incarnation), Now + TimeSpan.FromMicroseconds(delayMicros));
        }
    }

    /// <summary>Delay of a client request or response hop (clients are not subject to network faults).</summary>
    /// <returns>1-3 ms.</returns>
    public TimeSpan ClientHop() => TimeSpan.FromMicroseconds(1000 + _network.Next(2000));

    private int NodeOfAddress(string address) =>
        address.Length > 1 && int.TryParse(address.AsSpan(1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id) && id >= 1 && id <= _nodes.Count ? id : 0;

    /// <summary>One process incarnation's outbound network; silent once that incarnation is gone.</summary>
    private sealed class SimTransport(ClusterSimulation sim, SimNode node, int incarnation) : INodeTransport
    {
        public void SendRaft(RaftMessage message)
        {
            if (!Alive || message.To == 0 || message.To > (ulong)sim._nodes.Count)
            {
                return;
            }

            sim.Send(node, (int)message.To, inc => new SimEvent { Kind = EventKind.Raft, Node = (int)message.To, Incarnation = inc, RaftMessage = message });
        }

        public void SendGossip(string address, bool reliable, byte[] payload)
        {
            var to = sim.NodeOfAddress(address);
            if (!Alive || to == 0)
            {
                return;
            }

            sim.Send(node, to, inc => new SimEvent { Kind = EventKind.Gossip, Node = to, Incarnation = inc, From = node.Address, Reliable = reliable, Payload = payload });
        }

        /// <summary>Every simulated node holds a node certificate naming it; the impostor (99) holds none.</summary>
        public bool IsPeerCertified(ulong nodeId) => nodeId >= 1 && nodeId <= (ulong)sim._nodes.Count;

        private bool Alive => node.Incarnation == incarnation && node.Up;
    }
}
