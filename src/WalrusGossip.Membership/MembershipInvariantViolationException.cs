namespace WalrusGossip.Membership;

/// <summary>
/// Thrown when the membership state machine finds one of its own invariants broken (a bug, never
/// bad input: bad input is counted and ignored). The simulator catches it and reports the seed.
/// </summary>
public sealed class MembershipInvariantViolationException : Exception
{
    /// <summary>Creates the exception with a description of the broken invariant.</summary>
    /// <param name="message">What was expected and what was found.</param>
    public MembershipInvariantViolationException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with no message.</summary>
    public MembershipInvariantViolationException()
    {
    }

    /// <summary>Creates the exception wrapping another.</summary>
    /// <param name="message">What was expected and what was found.</param>
    /// <param name="innerException">The cause.</param>
    public MembershipInvariantViolationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
