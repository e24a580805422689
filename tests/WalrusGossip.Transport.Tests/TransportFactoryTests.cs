using Microsoft.Extensions.Logging.Abstractions;

namespace WalrusGossip.Transport.Tests;

public sealed class TransportFactoryTests
{
    [Fact]
    public void Auto_picks_quic_when_available_and_tcp_otherwise_and_says_why()
    {
        var transport = TransportFactory.Create(new TransportOptions { Mode = TransportMode.Auto }, NullLogger.Instance, out var reason);

        if (QuicSupport.IsAvailable(out _))
        {
            Assert.Equal("quic", transport.Mode);
            Assert.Contains("QUIC", reason, StringComparison.Ordinal);
        }
        else
        {
            Assert.Equal("tcp", transport.Mode);
            Assert.Contains("QUIC unavailable", reason, StringComparison.Ordinal);
            Assert.Contains("TCP + TLS 1.3", reason, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Tcp_mode_always_gives_tcp()
    {
        var transport = TransportFactory.Create(new TransportOptions { Mode = TransportMode.Tcp }, NullLogger.Instance, out var reason);

        Assert.Equal("tcp", transport.Mode);
        Assert.Contains("tcp", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Quic_mode_without_quic_support_fails_with_the_reason()
    {
        if (QuicSupport.IsAvailable(out _))
        {
            Assert.Skip("QUIC is available on this machine, so Mode=quic succeeds.");
        }

        var ex = Assert.Throws<PlatformNotSupportedException>(() =>
            TransportFactory.Create(new TransportOptions { Mode = TransportMode.Quic }, NullLogger.Instance, out _));
        Assert.Contains("QUIC unavailable", ex.Message, StringComparison.Ordinal);
    }

    public static IEnumerable<TheoryDataRow<string>> InvalidOptions() => Invalid.Keys.Select(k => new TheoryDataRow<string>(k));

    private static readonly Dictionary<string, Func<TransportOptions>> Invalid = new()
    {
        ["MaxFrameBytes"] = () => new TransportOptions { MaxFrameBytes = 10 },
        ["ConnectTimeout"] = () => new TransportOptions { ConnectTimeout = TimeSpan.Zero },
        ["MaxPendingConnections"] = () => new TransportOptions { MaxPendingConnections = 0 },
        ["TrustedRoots"] = () => new TransportOptions { RequireClientCertificate = true },
        ["Mode"] = () => new TransportOptions { Mode = (TransportMode)9 },
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void Invalid_options_are_refused_naming_the_setting(string setting)
    {
        var ex = Assert.ThrowsAny<ArgumentException>(() => TransportFactory.Create(Invalid[setting](), NullLogger.Instance, out _));
        Assert.Contains(setting, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Listening_without_a_certificate_is_refused()
    {
        var transport = TransportFactory.Create(new TransportOptions { Mode = TransportMode.Tcp }, NullLogger.Instance, out _);

        await Assert.ThrowsAsync<InvalidOperationException>(async () =>
            await transport.ListenAsync(TestTransports.AnyLoopbackPort, TestContext.Current.CancellationToken));
    }
}
