namespace WalrusGossip.Protocol;

/// <summary>Bounds of the wire protocol.</summary>
public static class ProtocolLimits
{
    /// <summary>
    /// Default largest frame, in bytes, counting the message type and body (the value of the length prefix):
    /// 16 MiB. A larger length prefix is refused before any buffer is allocated.
    /// </summary>
    public const int DefaultMaxFrameBytes = 16 * 1024 * 1024;

    /// <summary>Smallest accepted <c>MaxFrameBytes</c> setting: 1 KiB.</summary>
    public const int MinMaxFrameBytes = 1024;

    /// <summary>Largest accepted <c>MaxFrameBytes</c> setting: 1 GiB.</summary>
    public const int MaxMaxFrameBytes = 1024 * 1024 * 1024;

    /// <summary>Throws when <paramref name="maxFrameBytes"/> is outside [<see cref="MinMaxFrameBytes"/>, <see cref="MaxMaxFrameBytes"/>].</summary>
    /// <param name="maxFrameBytes">The setting to check.</param>
    /// <param name="paramName">Name reported in the exception.</param>
    /// <exception cref="ArgumentOutOfRangeException">The value is out of range.</exception>
    public static void ValidateMaxFrameBytes(int maxFrameBytes, string paramName = "maxFrameBytes")
    {
        if (maxFrameBytes < MinMaxFrameBytes || maxFrameBytes > MaxMaxFrameBytes)
        {
            throw new ArgumentOutOfRangeException(paramName, maxFrameBytes, $"MaxFrameBytes must be between {MinMaxFrameBytes} and {MaxMaxFrameBytes}.");
        }
    }
}
