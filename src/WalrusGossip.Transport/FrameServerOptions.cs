namespace WalrusGossip.Transport;

/// <summary>Settings of a <see cref="FrameServer"/>.</summary>
public sealed class FrameServerOptions
{
    /// <summary>What the hello of each connection must satisfy. Default: clients only, any cluster.</summary>
    public HelloAcceptOptions Hello { get; init; } = new();

    /// <summary>Time a new connection has to send a valid Hello before it is closed. Default 10 s.</summary>
    public TimeSpan HelloTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Most sessions open at once; further connections are closed on arrival. Default 4096.</summary>
    public int MaxConnections { get; init; } = 4096;

    /// <summary>Called once per session after it closed, for cleaning up per-session state. Default none.</summary>
    public Action<FrameSession>? SessionClosed { get; init; }
}
