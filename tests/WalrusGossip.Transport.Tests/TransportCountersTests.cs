using WalrusGossip.Protocol;

namespace WalrusGossip.Transport.Tests;

public sealed class TransportCountersTests
{
    [Fact]
    public void A_protocol_exception_is_counted_once_however_often_it_is_recorded()
    {
        var counters = new TransportCounters();
        var ex = new ProtocolException(ProtocolErrorKind.Malformed, "bad");

        counters.RecordProtocolError(ex);
        counters.RecordProtocolError(ex);

        Assert.Equal(1, counters.ProtocolErrors(ProtocolErrorKind.Malformed));
        Assert.Equal(1, counters.ConnectionsClosedForProtocolError);
    }

    [Fact]
    public void Each_kind_is_counted_separately_and_in_the_total()
    {
        var counters = new TransportCounters();

        counters.RecordProtocolError(ProtocolErrorKind.FrameTooLarge);
        counters.RecordProtocolError(ProtocolErrorKind.VersionMismatch);
        counters.RecordProtocolError(ProtocolErrorKind.VersionMismatch);

        Assert.Equal(1, counters.ProtocolErrors(ProtocolErrorKind.FrameTooLarge));
        Assert.Equal(2, counters.ProtocolErrors(ProtocolErrorKind.VersionMismatch));
        Assert.Equal(0, counters.ProtocolErrors(ProtocolErrorKind.Truncated));
        Assert.Equal(3, counters.ConnectionsClosedForProtocolError);
    }
}
