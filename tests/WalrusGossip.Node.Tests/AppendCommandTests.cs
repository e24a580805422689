namespace WalrusGossip.Node.Tests;

public sealed class AppendCommandTests
{
    [Fact]
    public void Version_1_is_written_without_an_acknowledgement_and_version_2_with_one()
    {
        var v1 = AppendCommand.Encode(5, 9, "orders", [1, 2, 3]);
        var v2 = AppendCommand.Encode(5, 9, "orders", [1, 2, 3], acknowledgedBelow: 8);

        Assert.Equal(1, v1[0]);
        Assert.Equal(2, v2[0]);
        Assert.True(AppendCommand.TryDecode(v1, out var client, out var sequence, out var acknowledged, out var offset));
        Assert.Equal((5ul, 9ul, 0ul), (client, sequence, acknowledged));
        Assert.Equal([1, 2, 3], v1[offset..]);
        Assert.True(AppendCommand.TryDecode(v2, out client, out sequence, out acknowledged, out offset));
        Assert.Equal((5ul, 9ul, 8ul), (client, sequence, acknowledged));
        Assert.Equal([1, 2, 3], v2[offset..]);
        Assert.Equal("orders", AppendCommand.StreamOf(v1));
        Assert.Equal("orders", AppendCommand.StreamOf(v2));
    }

    [Theory]
    [InlineData(new byte[] { })]
    [InlineData(new byte[] { 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 })]
    [InlineData(new byte[] { 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 })]
    [InlineData(new byte[] { 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 65 })]
    public void Unknown_versions_and_truncated_commands_are_not_decoded(byte[] payload)
    {
        Assert.False(AppendCommand.TryDecode(payload, out _, out _, out _));
        Assert.Null(AppendCommand.StreamOf(payload));
    }
}
