using System.Security.Cryptography;

namespace WalrusGossip.Membership;

/// <summary>
/// A <see cref="Random"/> backed by the operating system's cryptographic generator (<see cref="RandomNumberGenerator"/>),
/// for the production nonce prefixes of <see cref="GossipKeyring"/>: a seeded <see cref="Random"/> has at most 2^31
/// sequences, so processes sealing under one key would repeat a prefix by the birthday bound after tens of thousands of
/// restarts, and AES-GCM loses both confidentiality and authenticity when a nonce repeats (NIST SP 800-38D §8).
/// Thread-safe.
/// </summary>
public sealed class CryptographicRandom : Random
{
    /// <inheritdoc />
    public override void NextBytes(byte[] buffer) => RandomNumberGenerator.Fill(buffer);

    /// <inheritdoc />
    public override void NextBytes(Span<byte> buffer) => RandomNumberGenerator.Fill(buffer);

    /// <inheritdoc />
    public override int Next() => RandomNumberGenerator.GetInt32(int.MaxValue);

    /// <inheritdoc />
    public override int Next(int maxValue)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxValue);
        return maxValue <= 1 ? 0 : RandomNumberGenerator.GetInt32(maxValue);
    }

    /// <inheritdoc />
    public override int Next(int minValue, int maxValue)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minValue, maxValue);
        return maxValue - minValue <= 1 ? minValue : RandomNumberGenerator.GetInt32(minValue, maxValue);
    }

    /// <inheritdoc />
    public override double NextDouble() => (RandomNumberGenerator.GetInt32(1 << 26) * (double)(1 << 27) + RandomNumberGenerator.GetInt32(1 << 27)) / (1L << 53);

    /// <inheritdoc />
    protected override double Sample() => NextDouble();
}
