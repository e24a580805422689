using System.Buffers.Binary;

namespace WalrusGossip.Raft;

/// <summary>
/// An immutable cluster configuration: the voters, whose majority decides elections and commitment, and the
/// learners, who receive the log but never vote and are never counted (dissertation §4.2.1).
/// A <see cref="EntryType.ConfigChange"/> entry carries the whole configuration, not a delta, so a node
/// learns the membership from any single configuration entry or snapshot.
/// </summary>
public sealed class ClusterConfig
{
    private const int MaxMembers = 1024;
    private readonly ulong[] _voters;
    private readonly ulong[] _learners;

    private ClusterConfig(ulong[] voters, ulong[] learners)
    {
        _voters = voters;
        _learners = learners;
    }

    /// <summary>The configuration with no members: a node that has not yet learned its cluster.</summary>
    public static ClusterConfig Empty { get; } = new([], []);

    /// <summary>Voting member ids, ascending.</summary>
    public IReadOnlyList<ulong> Voters => _voters;

    /// <summary>Non-voting member ids, ascending.</summary>
    public IReadOnlyList<ulong> Learners => _learners;

    /// <summary>Votes or acknowledgements needed for a majority of <see cref="Voters"/> (0 when there are no voters).</summary>
    public int Quorum => _voters.Length == 0 ? 0 : (_voters.Length / 2) + 1;

    /// <summary>Creates a configuration.</summary>
    /// <param name="voters">Voting member ids; each non-zero and distinct.</param>
    /// <param name="learners">Learner ids; each non-zero, distinct and not a voter. Null means none.</param>
    /// <returns>The configuration.</returns>
    /// <exception cref="ArgumentException">An id is zero, repeated, both voter and learner, or there are more than 1024 members.</exception>
    public static ClusterConfig Create(IEnumerable<ulong> voters, IEnumerable<ulong>? learners = null)
    {
        ArgumentNullException.ThrowIfNull(voters);
        var v = voters.ToArray();
        var l = learners?.ToArray() ?? [];
        if (!TryValidate(v, l))
        {
            throw new ArgumentException("Member ids must be non-zero and distinct, and a node cannot be both voter and learner.", nameof(voters));
        }

        Array.Sort(v);
        Array.Sort(l);
        return new ClusterConfig(v, l);
    }

    /// <summary>True when <paramref name="id"/> is a voter.</summary>
    /// <param name="id">Node id.</param>
    /// <returns>Whether the node votes.</returns>
    public bool IsVoter(ulong id) => Array.BinarySearch(_voters, id) >= 0;

    /// <summary>True when <paramref name="id"/> is a learner.</summary>
    /// <param name="id">Node id.</param>
    /// <returns>Whether the node is a non-voting member.</returns>
    public bool IsLearner(ulong id) => Array.BinarySearch(_learners, id) >= 0;

    /// <summary>True when <paramref name="id"/> is a voter or a learner.</summary>
    /// <param name="id">Node id.</param>
    /// <returns>Whether the node is a member.</returns>
    public bool Contains(ulong id) => IsVoter(id) || IsLearner(id);

    /// <summary>
    /// Applies one single-server change (dissertation §4.1) and returns the resulting configuration, or null
    /// when the change is malformed, changes nothing (adding a member twice, demoting a learner) or would leave no voter.
    /// </summary>
    /// <param name="change">The change.</param>
    /// <returns>The new configuration, or null when the change is invalid or changes nothing.</returns>
    public ClusterConfig? TryApply(ConfigChange change)
    {
        if (change.NodeId == 0)
        {
            return null;
        }

        var voters = new List<ulong>(_voters);
        var learners = new List<ulong>(_learners);
        switch (change.Type)
        {
            case ConfigChangeType.AddVoter:
                if (IsVoter(change.NodeId))
                {
                    return null;
                }

                learners.Remove(change.NodeId);
                voters.Add(change.NodeId);
                break;
            case ConfigChangeType.AddLearner:
                if (Contains(change.NodeId))
                {
                    return null;
                }

                learners.Add(change.NodeId);
                break;
            case ConfigChangeType.Demote:
                if (!IsVoter(change.NodeId))
                {
                    return null;
                }

                voters.Remove(change.NodeId);
                learners.Add(change.NodeId);
                break;
            case ConfigChangeType.Remove:
                if (!Contains(change.NodeId))
                {
                    return null;
                }

                voters.Remove(change.NodeId);
                learners.Remove(change.NodeId);
                break;
            default:
                return null;
        }

        if (voters.Count == 0 || voters.Count + learners.Count > MaxMembers)
        {
            return null;
        }

        return Create(voters, learners);
    }

    /// <summary>Encodes the configuration as a <see cref="EntryType.ConfigChange"/> payload.</summary>
    /// <returns>Little-endian: voter count (u16), learner count (u16), then each id (u64).</returns>
    public byte[] Encode()
    {
        var bytes = new byte[4 + (8 * (_voters.Length + _learners.Length))];
        BinaryPrimitives.WriteUInt16LittleEndian(bytes, (ushort)_voters.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(2), (ushort)_learners.Length);
        var offset = 4;
        foreach (var id in _voters)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(offset), id);
            offset += 8;
        }

        foreach (var id in _learners)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(offset), id);
            offset += 8;
        }

        return bytes;
    }

    /// <summary>Decodes a payload written by <see cref="Encode"/>; never throws.</summary>
    /// <param name="payload">The entry payload.</param>
    /// <param name="config">The decoded configuration, or null when the payload is malformed.</param>
    /// <returns>Whether the payload was a valid configuration with at least one voter.</returns>
    public static bool TryDecode(ReadOnlySpan<byte> payload, out ClusterConfig? config)
    {
        config = null;
        if (payload.Length < 4)
        {
            return false;
        }

        int voterCount = BinaryPrimitives.ReadUInt16LittleEndian(payload);
        int learnerCount = BinaryPrimitives.ReadUInt16LittleEndian(payload[2..]);
        if (voterCount == 0 || voterCount + learnerCount > MaxMembers || payload.Length != 4 + (8 * (voterCount + learnerCount)))
        {
            return false;
        }

        var voters = new ulong[voterCount];
        var learners = new ulong[learnerCount];
        for (var i = 0; i < voterCount; i++)
        {
            voters[i] = BinaryPrimitives.ReadUInt64LittleEndian(payload[(4 + (8 * i))..]);
        }

        for (var i = 0; i < learnerCount; i++)
        {
            learners[i] = BinaryPrimitives.ReadUInt64LittleEndian(payload[(4 + (8 * (voterCount + i)))..]);
        }

        if (!TryValidate(voters, learners))
        {
            return false;
        }

        Array.Sort(voters);
        Array.Sort(learners);
        config = new ClusterConfig(voters, learners);
        return true;
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"voters=[{string.Join(',', _voters)}] learners=[{string.Join(',', _learners)}]";

    private static bool TryValidate(ulong[] voters, ulong[] learners)
    {
        if (voters.Length + learners.Length > MaxMembers)
        {
            return false;
        }

        var seen = new HashSet<ulong>();
        foreach (var id in voters)
        {
            if (id == 0 || !seen.Add(id))
            {
                return false;
            }
        }

        foreach (var id in learners)
        {
            if (id == 0 || !seen.Add(id))
            {
                return false;
            }
        }

        return true;
    }
}
