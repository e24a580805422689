namespace WalrusGossip.Raft;

/// <summary>
/// The only source of randomness the Raft core uses (for randomised election timeouts, paper §5.2).
/// Passed in through <see cref="RaftOptions.Random"/> so a run reproduces exactly from a seed.
/// </summary>
public interface IRaftRandom
{
    /// <summary>Returns a uniformly distributed integer in [0, <paramref name="maxExclusive"/>).</summary>
    /// <param name="maxExclusive">Exclusive upper bound; at least 1.</param>
    /// <returns>The next value of the sequence.</returns>
    int Next(int maxExclusive);
}

/// <summary>
/// A seeded SplitMix64 generator: the same seed yields the same sequence on every platform and .NET
/// version, unlike <see cref="Random"/>, whose algorithm may change between releases.
/// </summary>
public sealed class SeededRaftRandom : IRaftRandom
{
    private ulong _state;

    /// <summary>Creates a generator from a seed.</summary>
    /// <param name="seed">Any value; equal seeds give equal sequences.</param>
    public SeededRaftRandom(ulong seed) => _state = seed;

    /// <inheritdoc />
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxExclusive"/> is less than 1.</exception>
    public int Next(int maxExclusive)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxExclusive, 1);
        return (int)(NextUInt64() % (ulong)maxExclusive);
    }

    /// <summary>Returns the next 64 random bits.</summary>
    /// <returns>The next value of the sequence.</returns>
    public ulong NextUInt64()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
