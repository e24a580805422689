using WalrusGossip.Protocol.Messages;

namespace WalrusGossip.Client;

/// <summary>
/// One answer of a backup read (see <see cref="WalrusClient.ReadBackupAsync"/>), in its wire form: the SDK does not
/// depend on the Raft library, so the checkpoint and entries are the protocol's messages (walrusctl maps them to
/// Raft's types with <c>RaftMessageMapper</c> before writing a backup file).
/// </summary>
/// <param name="Endpoint">The agent that answered; every piece of one backup must come from it.</param>
/// <param name="Checkpoint">First piece only: the checkpoint in force (state machine at its index, with term and configuration), or null when the cluster had none yet.</param>
/// <param name="FirstIndex">First entry of the backup (the agent's first retained index when it was pinned).</param>
/// <param name="UpToIndex">Last entry of the backup (the agent's applied index when it was pinned).</param>
/// <param name="Entries">Raw committed entries (internal ones included, payloads as stored), contiguous, in index order.</param>
public sealed record BackupPiece(string Endpoint, RaftSnapshotData? Checkpoint, ulong FirstIndex, ulong UpToIndex, IReadOnlyList<RaftEntry> Entries);
