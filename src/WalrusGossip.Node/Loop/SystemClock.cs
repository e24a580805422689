using System.Diagnostics;

namespace WalrusGossip.Node;

/// <summary>The monotonic system clock (<see cref="Stopwatch"/>), as the node loop's <see cref="INodeClock"/>.</summary>
public sealed class SystemClock : INodeClock
{
    private readonly long _origin = Stopwatch.GetTimestamp();

    /// <inheritdoc />
    public TimeSpan Now => Stopwatch.GetElapsedTime(_origin);
}
