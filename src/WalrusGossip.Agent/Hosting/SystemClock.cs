using System.Diagnostics;
using WalrusGossip.Node;

namespace WalrusGossip.Agent.Hosting;

/// <summary>The monotonic system clock (<see cref="Stopwatch"/>), as the node loop's <see cref="INodeClock"/>.</summary>
public sealed class SystemClock : INodeClock
{
    private readonly long _origin = Stopwatch.GetTimestamp();

    /// <inheritdoc />
    public TimeSpan Now => Stopwatch.GetElapsedTime(_origin);
}
