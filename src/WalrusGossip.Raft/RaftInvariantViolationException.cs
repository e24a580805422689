using System.Runtime.CompilerServices;

namespace WalrusGossip.Raft;

/// <summary>
/// Thrown when an internal Raft invariant does not hold (for example: a committed entry would be truncated,
/// or the storage returns entries that do not match the requested range). Continuing would risk losing or
/// corrupting acknowledged data, so the node loop must stop; the simulator reports it with its seed.
/// Bad input from the network never causes this exception: such messages are ignored or rejected.
/// </summary>
public sealed class RaftInvariantViolationException : Exception
{
    /// <summary>Creates the exception with no message.</summary>
    public RaftInvariantViolationException()
    {
    }

    /// <summary>Creates the exception with a description of the violated invariant.</summary>
    /// <param name="message">What must have been true and what was found instead.</param>
    public RaftInvariantViolationException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a description and the exception that revealed the violation.</summary>
    /// <param name="message">What must have been true and what was found instead.</param>
    /// <param name="innerException">The exception that revealed the violation.</param>
    public RaftInvariantViolationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Throws when <paramref name="condition"/> is false; the interpolated message is only formatted then.</summary>
    internal static void Check(bool condition, [InterpolatedStringHandlerArgument(nameof(condition))] ref CheckMessageHandler message)
    {
        if (!condition)
        {
            throw new RaftInvariantViolationException(message.ToStringAndClear());
        }
    }

    internal static void Check(bool condition, string message)
    {
        if (!condition)
        {
            throw new RaftInvariantViolationException(message);
        }
    }
}

/// <summary>Formats a <see cref="RaftInvariantViolationException.Check(bool, ref CheckMessageHandler)"/> message only when the check fails (hot paths check on every append).</summary>
[InterpolatedStringHandler]
internal ref struct CheckMessageHandler
{
    private DefaultInterpolatedStringHandler _inner;

    public CheckMessageHandler(int literalLength, int formattedCount, bool condition, out bool shouldAppend)
    {
        shouldAppend = !condition;
        _inner = shouldAppend ? new DefaultInterpolatedStringHandler(literalLength, formattedCount) : default;
    }

    public void AppendLiteral(string value) => _inner.AppendLiteral(value);

    public void AppendFormatted<T>(T value) => _inner.AppendFormatted(value);

    public string ToStringAndClear() => _inner.ToStringAndClear();
}
