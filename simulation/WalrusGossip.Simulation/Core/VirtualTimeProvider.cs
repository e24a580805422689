namespace WalrusGossip.Simulation.Core;

/// <summary>
/// Wall-clock time for the simulated nodes' storage (<see cref="Storage.StorageOptions.TimeProvider"/>, retention by
/// age) and the file times their simulated disks stamp: <see cref="Epoch"/> plus the run's virtual time, so a run
/// never reads the real clock and replays exactly.
/// </summary>
/// <param name="now">The run's virtual time since its start.</param>
internal sealed class VirtualTimeProvider(Func<TimeSpan> now) : TimeProvider
{
    /// <summary>The wall-clock instant a run starts at: 2000-01-01T00:00:00Z.</summary>
    public static readonly DateTimeOffset Epoch = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Wall-clock time at virtual time <paramref name="virtualTime"/>, UTC.</summary>
    /// <param name="virtualTime">Time since the start of the run.</param>
    /// <returns><see cref="Epoch"/> + <paramref name="virtualTime"/>.</returns>
    public static DateTime At(TimeSpan virtualTime) => (Epoch + virtualTime).UtcDateTime;

    /// <inheritdoc />
    public override DateTimeOffset GetUtcNow() => Epoch + now();
}
