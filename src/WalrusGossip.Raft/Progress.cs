namespace WalrusGossip.Raft;

/// <summary>How the leader currently replicates to one follower (etcd/raft's StateProbe/Replicate/Snapshot).</summary>
internal enum ReplicationState
{
    /// <summary>Next index unknown: send one message per heartbeat interval and wait for its answer.</summary>
    Probe,

    /// <summary>Steady state: pipeline messages up to the in-flight limits.</summary>
    Replicate,

    /// <summary>A snapshot is on its way; send nothing else until it is acknowledged or reported failed.</summary>
    Snapshot,
}

/// <summary>The leader's view of one member (paper Figure 2: nextIndex, matchIndex).</summary>
internal sealed class Progress
{
    public Progress(ulong next, int maxInflightMessages, ulong maxInflightBytes, bool isLearner)
    {
        Next = next;
        Inflights = new Inflights(maxInflightMessages, maxInflightBytes);
        IsLearner = isLearner;
    }

    public ulong Match { get; set; }

    public ulong Next { get; set; }

    public ReplicationState State { get; private set; } = ReplicationState.Probe;

    /// <summary>Index of the snapshot being sent, in <see cref="ReplicationState.Snapshot"/>.</summary>
    public ulong PendingSnapshot { get; private set; }

    /// <summary>Heard from since the last CheckQuorum round.</summary>
    public bool RecentActive { get; set; }

    /// <summary>In <see cref="ReplicationState.Probe"/>: a probe is outstanding, wait for an answer or a heartbeat.</summary>
    public bool ProbeSent { get; set; }

    public Inflights Inflights { get; }

    public bool IsLearner { get; set; }

    public bool IsPaused => State switch
    {
        ReplicationState.Probe => ProbeSent,
        ReplicationState.Replicate => Inflights.Full,
        _ => true,
    };

    public void BecomeProbe()
    {
        if (State == ReplicationState.Snapshot)
        {
            var pending = PendingSnapshot;
            ResetState(ReplicationState.Probe);
            Next = Math.Max(Match + 1, pending + 1);
        }
        else
        {
            ResetState(ReplicationState.Probe);
            Next = Match + 1;
        }
    }

    public void BecomeReplicate()
    {
        ResetState(ReplicationState.Replicate);
        Next = Match + 1;
    }

    /// <summary>Sending the snapshot failed: forget it and probe from the match index again.</summary>
    public void SnapshotFailed()
    {
        PendingSnapshot = 0;
        BecomeProbe();
    }

    public void BecomeSnapshot(ulong snapshotIndex)
    {
        ResetState(ReplicationState.Snapshot);
        PendingSnapshot = snapshotIndex;
    }

    /// <summary>An acknowledgement up to <paramref name="index"/> arrived; returns false when it is stale.</summary>
    public bool MaybeUpdate(ulong index)
    {
        var updated = false;
        if (Match < index)
        {
            Match = index;
            updated = true;
            ProbeSent = false;
        }

        Next = Math.Max(Next, index + 1);
        return updated;
    }

    /// <summary>
    /// The follower lost its log (it answered with an empty one after acknowledging entries): forget its match index
    /// and probe from index 1. Safe for the leader's commit index, which never moves back.
    /// </summary>
    public void ForgetMatch()
    {
        ResetState(ReplicationState.Probe);
        Match = 0;
        Next = 1;
    }

    /// <summary>
    /// A rejection of an append at <paramref name="rejected"/> arrived with the follower's hint; moves
    /// <see cref="Next"/> back, skipping the whole conflicting term. Returns false when the rejection is stale.
    /// </summary>
    public bool MaybeDecreaseTo(ulong rejected, ulong hint)
    {
        if (State == ReplicationState.Replicate)
        {
            if (rejected <= Match)
            {
                return false;
            }

            Next = Match + 1;
            return true;
        }

        if (Next == 0 || Next - 1 != rejected)
        {
            return false;
        }

        Next = Math.Max(Math.Min(rejected, hint + 1), Match + 1);
        ProbeSent = false;
        return true;
    }

    /// <summary>Records that entries up to <paramref name="lastIndex"/> (<paramref name="bytes"/> in total) were sent.</summary>
    public void OnEntriesSent(int count, ulong lastIndex, ulong bytes)
    {
        if (State == ReplicationState.Replicate)
        {
            if (count > 0)
            {
                Next = lastIndex + 1;
                Inflights.Add(lastIndex, bytes);
            }
        }
        else if (State == ReplicationState.Probe)
        {
            ProbeSent = true;
        }
    }

    private void ResetState(ReplicationState state)
    {
        ProbeSent = false;
        PendingSnapshot = 0;
        State = state;
        Inflights.Reset();
    }
}
