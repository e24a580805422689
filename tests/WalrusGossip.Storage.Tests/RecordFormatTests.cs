using WalrusGossip.Storage.Records;
using WalrusGossip.Raft;

namespace WalrusGossip.Storage.Tests;

public class RecordFormatTests
{
    [Fact]
    public void Crc32C_matches_the_standard_check_value() =>
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));

    [Fact]
    public void Crc32C_of_two_spans_equals_crc_of_their_concatenation()
    {
        var data = TestStores.PayloadFor(7, 1000);
        Assert.Equal(Crc32C.Compute(data), Crc32C.Compute(data.AsSpan(0, 333), data.AsSpan(333)));
    }

    [Fact]
    public void Encoded_record_round_trips_and_verifies()
    {
        var buffer = new byte[RecordHeader.Size + 10];
        var n = RecordHeader.Encode(buffer, 42, 7, EntryType.ConfigChange, 0x5, TestStores.PayloadFor(1, 10));
        Assert.Equal(buffer.Length, n);
        Assert.True(RecordHeader.Verify(buffer));
        var header = RecordHeader.Read(buffer);
        Assert.Equal((42ul, 7ul, (byte)EntryType.ConfigChange, (byte)5, 10u), (header.Index, header.Term, header.Type, header.Flags, header.PayloadLength));
    }

    [Fact]
    public void Any_single_flipped_bit_fails_verification()
    {
        var buffer = new byte[RecordHeader.Size + 24];
        RecordHeader.Encode(buffer, 1, 1, EntryType.Normal, 0, TestStores.PayloadFor(3, 24));
        for (var bit = 0; bit < buffer.Length * 8; bit++)
        {
            buffer[bit / 8] ^= (byte)(1 << (bit % 8));
            Assert.False(RecordHeader.Verify(buffer), $"bit {bit} flip went undetected");
            buffer[bit / 8] ^= (byte)(1 << (bit % 8));
        }
    }
}
