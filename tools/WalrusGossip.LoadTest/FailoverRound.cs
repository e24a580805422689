using System.Diagnostics;

namespace WalrusGossip.LoadTest;

/// <summary>
/// One leader kill of the failover scenario. Published to the appending tasks before the kill; the first of them to
/// be acknowledged after <see cref="KillAt"/> in a term above <see cref="TermBefore"/> completes <see cref="FirstAck"/>.
/// </summary>
/// <param name="number">1-based round number.</param>
/// <param name="nodeId">The killed leader.</param>
/// <param name="pid">Its process id.</param>
/// <param name="termBefore">The leader's term when it was killed.</param>
/// <param name="killAt">Stopwatch timestamp taken just before the SIGKILL.</param>
internal sealed class FailoverRound(int number, ulong nodeId, int pid, ulong termBefore, long killAt)
{
    private readonly TaskCompletionSource _firstAck = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _firstAckAt;

    /// <summary>1-based round number.</summary>
    public int Number { get; } = number;

    /// <summary>The killed leader's node id.</summary>
    public ulong NodeId { get; } = nodeId;

    /// <summary>The killed leader's process id.</summary>
    public int Pid { get; } = pid;

    /// <summary>The leader's term when it was killed.</summary>
    public ulong TermBefore { get; } = termBefore;

    /// <summary>Stopwatch timestamp taken just before the SIGKILL.</summary>
    public long KillAt { get; } = killAt;

    /// <summary>Completes when an append is acknowledged in a newer term after the kill.</summary>
    public Task FirstAck => _firstAck.Task;

    /// <summary>Milliseconds from the kill to the first append acknowledged in a newer term, or null when none was.</summary>
    public double? FailoverMs => Interlocked.Read(ref _firstAckAt) is var at && at != 0 ? Stopwatch.GetElapsedTime(KillAt, at).TotalMilliseconds : null;

    /// <summary>Called for each append acknowledged after the kill in a newer term; the first one counts.</summary>
    /// <param name="timestamp">Stopwatch timestamp of the acknowledgement.</param>
    public void Acknowledged(long timestamp)
    {
        if (Interlocked.CompareExchange(ref _firstAckAt, timestamp, 0) == 0)
        {
            _firstAck.TrySetResult();
        }
    }
}
