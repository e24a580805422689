namespace WalrusGossip.Node;

/// <summary>
/// A stream read asked for sequences the log no longer holds: retention or a snapshot compacted them
/// (<see cref="CommittedLog.ReadStream"/>). The sequences themselves stay assigned; read from <see cref="FirstSequence"/>.
/// </summary>
public sealed class StreamCompactedException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="stream">The stream.</param>
    /// <param name="sequence">The sequence asked for.</param>
    /// <param name="firstSequence">The stream's first retained sequence.</param>
    public StreamCompactedException(string stream, ulong sequence, ulong firstSequence)
        : base($"sequence {sequence} of stream '{stream}' is compacted; the stream's first retained sequence is {firstSequence}")
    {
        Stream = stream;
        Sequence = sequence;
        FirstSequence = firstSequence;
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">Text.</param>
    public StreamCompactedException(string message)
        : base(message) => Stream = string.Empty;

    /// <summary>Creates the exception (serialization shape).</summary>
    public StreamCompactedException()
        : this("a stream sequence is compacted")
    {
    }

    /// <summary>Creates the exception with a cause.</summary>
    /// <param name="message">Text.</param>
    /// <param name="innerException">The cause.</param>
    public StreamCompactedException(string message, Exception innerException)
        : base(message, innerException) => Stream = string.Empty;

    /// <summary>The stream read.</summary>
    public string Stream { get; }

    /// <summary>The sequence asked for.</summary>
    public ulong Sequence { get; }

    /// <summary>The stream's first retained sequence: the earliest a read may start.</summary>
    public ulong FirstSequence { get; }
}
