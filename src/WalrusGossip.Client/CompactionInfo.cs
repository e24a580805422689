namespace WalrusGossip.Client;

/// <summary>One agent's log as retention sees it (see <see cref="WalrusClient.CompactAsync"/>).</summary>
/// <param name="Endpoint">The agent that answered.</param>
/// <param name="FirstIndex">First retained index; reads below it fail with <see cref="WalrusCompactedException"/>.</param>
/// <param name="LastIndex">Last index in its local log.</param>
/// <param name="CheckpointIndex">Newest checkpoint in force, 0 before the first.</param>
/// <param name="AppliedIndex">Its applied index.</param>
/// <param name="DataBytes">Record bytes held by its segments.</param>
/// <param name="Retention">Its retention policy, <c>max-bytes=N max-entries=N</c> (0 = no limit).</param>
/// <param name="Checkpointing">True while a checkpoint is being written.</param>
/// <param name="CheckpointStarted">True when the request started one.</param>
/// <param name="Message">Human-readable detail.</param>
public sealed record CompactionInfo(
    string Endpoint, ulong FirstIndex, ulong LastIndex, ulong CheckpointIndex, ulong AppliedIndex, long DataBytes, string Retention, bool Checkpointing, bool CheckpointStarted, string Message)
{
    /// <summary>Its retention policy's age limit (<c>Storage:Retention:MaxAge</c>), millisecond precision; <see cref="TimeSpan.Zero"/>: no limit (also from agents that predate it).</summary>
    public TimeSpan RetentionMaxAge { get; init; }
}
