namespace WalrusGossip.Membership;

/// <summary>Severity of a <see cref="MembershipLogEntry"/>.</summary>
public enum MembershipLogLevel
{
    /// <summary>Routine but noteworthy (refutations, joins).</summary>
    Information = 0,

    /// <summary>Rejected input or dropped work.</summary>
    Warning = 1,
}

/// <summary>
/// A log line produced by the state machine, which has no logger of its own; the host drains them
/// with <see cref="MembershipNode.DrainLog"/> and writes them to its <c>ILogger</c>.
/// </summary>
/// <param name="At">Virtual time.</param>
/// <param name="Level">Severity.</param>
/// <param name="Message">Human-readable text.</param>
public readonly record struct MembershipLogEntry(TimeSpan At, MembershipLogLevel Level, string Message);
