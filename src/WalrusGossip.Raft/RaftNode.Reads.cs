namespace WalrusGossip.Raft;

/// <summary>Linearizable reads without writing to the log (dissertation §6.4): ReadIndex, or lease reads as an option.</summary>
public sealed partial class RaftNode
{
    /// <summary>
    /// Requests a linearizable read. When leadership is confirmed, a <see cref="ReadState"/> with the read index
    /// and <paramref name="context"/> appears in a later <see cref="Ready.ReadStates"/>; the application serves the
    /// read once it has applied up to that index. On a follower the request is forwarded to the leader.
    /// With <see cref="ReadConsistency.ReadIndex"/> the leader first hears from a quorum in a heartbeat round;
    /// with <see cref="ReadConsistency.Lease"/> it answers at once (see that option's clock assumption).
    /// A request may be lost (leader change, dropped message): time out and retry.
    /// </summary>
    /// <param name="context">Non-empty bytes identifying the request, unique among outstanding requests.</param>
    /// <returns>False when the request cannot be served now: no known leader, the leader has not yet committed an
    /// entry of its term (§6.4 step 1), or <see cref="RaftOptions.MaxPendingReads"/> is reached.</returns>
    /// <exception cref="ArgumentException"><paramref name="context"/> is empty.</exception>
    public bool ReadIndex(ReadOnlyMemory<byte> context)
    {
        if (context.IsEmpty)
        {
            throw new ArgumentException("A read needs a non-empty context.", nameof(context));
        }

        if (_role == RaftRole.Leader)
        {
            return LeaderReadIndex(Id, context);
        }

        if (_lead == 0)
        {
            return false;
        }

        Send(new RaftMessage { Type = RaftMessageType.ReadIndex, From = Id, To = _lead, Term = _term, Context = context });
        return true;
    }

    private bool LeaderReadIndex(ulong from, ReadOnlyMemory<byte> context)
    {
        // Until an entry of this term commits, the leader's commit index may lag the true one (§6.4 step 1).
        if (_log.TermOrZero(_log.Committed) != _term)
        {
            return false;
        }

        var index = _log.Committed;
        var soleVoter = _config.Voters.Count == 1 && _config.IsVoter(Id);
        if (soleVoter || _options.ReadConsistency == ReadConsistency.Lease)
        {
            ReleaseRead(from, index, context);
            return true;
        }

        if (_reads.Count >= _options.MaxPendingReads)
        {
            return false;
        }

        _reads.Add(index, context, from);
        if (_config.IsVoter(Id))
        {
            _reads.Acknowledge(Id, context.Span, _config);
        }

        BroadcastHeartbeat(context);
        return true;
    }

    private void ReleaseRead(ulong from, ulong index, ReadOnlyMemory<byte> context)
    {
        if (from == Id)
        {
            _readStates.Add(new ReadState(index, context));
        }
        else
        {
            Send(new RaftMessage { Type = RaftMessageType.ReadIndexResponse, From = Id, To = from, Term = _term, Index = index, Context = context });
        }
    }
}
