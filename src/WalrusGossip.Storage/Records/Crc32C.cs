using System.Buffers.Binary;
using System.Numerics;

namespace WalrusGossip.Storage.Records;

/// <summary>
/// CRC-32C (Castagnoli, polynomial 0x1EDC6F41, RFC 3720 §12.1) over byte spans, using the CPU's CRC32
/// instruction through <see cref="BitOperations.Crc32C(uint, ulong)"/>.
/// </summary>
public static class Crc32C
{
    /// <summary>Computes the CRC-32C of <paramref name="data"/> (initial value and final XOR 0xFFFFFFFF).</summary>
    /// <param name="data">Bytes to checksum; any length.</param>
    /// <returns>The standard CRC-32C value, e.g. 0xE3069283 for the ASCII bytes "123456789".</returns>
    public static uint Compute(ReadOnlySpan<byte> data) => ~Append(0xFFFF_FFFFu, data);

    /// <summary>Computes the CRC-32C of two spans as if they were one contiguous span.</summary>
    /// <param name="first">The leading bytes.</param>
    /// <param name="second">The trailing bytes.</param>
    /// <returns>The standard CRC-32C of the concatenation.</returns>
    public static uint Compute(ReadOnlySpan<byte> first, ReadOnlySpan<byte> second) =>
        ~Append(Append(0xFFFF_FFFFu, first), second);

    /// <summary>The running value to start an incremental CRC-32C with (see <see cref="Continue"/>).</summary>
    public const uint Start = 0xFFFF_FFFFu;

    /// <summary>Feeds more bytes into an incremental CRC-32C: start from <see cref="Start"/>, finish with <see cref="Finish"/>.</summary>
    /// <param name="running">The running value so far.</param>
    /// <param name="data">The next bytes.</param>
    /// <returns>The new running value.</returns>
    public static uint Continue(uint running, ReadOnlySpan<byte> data) => Append(running, data);

    /// <summary>Turns a running value into the CRC-32C of every byte fed to it.</summary>
    /// <param name="running">The running value.</param>
    /// <returns>The standard CRC-32C.</returns>
    public static uint Finish(uint running) => ~running;

    private static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        while (data.Length >= 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }

        if (data.Length >= 4)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt32LittleEndian(data));
            data = data[4..];
        }

        foreach (var b in data)
        {
            crc = BitOperations.Crc32C(crc, b);
        }

        return crc;
    }
}
