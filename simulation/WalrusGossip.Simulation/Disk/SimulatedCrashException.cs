namespace WalrusGossip.Simulation.Disk;

/// <summary>
/// Thrown by a <see cref="SimulatedDisk"/> handle when its process has crashed: the simulator catches it at the node
/// boundary and treats the node as down. Deliberately not an <see cref="IOException"/>, so storage code that handles
/// I/O errors cannot swallow it.
/// </summary>
public sealed class SimulatedCrashException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SimulatedCrashException()
        : base("simulated process crash")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">Message.</param>
    public SimulatedCrashException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and cause.</summary>
    /// <param name="message">Message.</param>
    /// <param name="inner">Cause.</param>
    public SimulatedCrashException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
