namespace WalrusGossip.Node;

/// <summary>
/// A state-machine snapshot (see <see cref="LogStateMachine.EncodeSnapshot()"/>) could not be restored: it is truncated,
/// fails its CRC-32C, has an unknown version, or describes an impossible state. Nothing was changed.
/// </summary>
public sealed class StateMachineSnapshotException : Exception
{
    /// <summary>Creates the exception.</summary>
    public StateMachineSnapshotException()
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong with the snapshot.</param>
    public StateMachineSnapshotException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong with the snapshot.</param>
    /// <param name="innerException">The cause.</param>
    public StateMachineSnapshotException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
