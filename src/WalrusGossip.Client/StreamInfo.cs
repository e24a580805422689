namespace WalrusGossip.Client;

/// <summary>What a stream holds (<see cref="WalrusClient.GetStreamInfoAsync"/>, <see cref="WalrusClient.ListStreamsAsync"/>).</summary>
/// <param name="Name">Stream name.</param>
/// <param name="FirstSequence">Sequence of the oldest retained entry (<paramref name="LastSequence"/> + 1 when retention kept none).</param>
/// <param name="LastSequence">Sequence of the newest entry; sequences start at 1 and have no gaps.</param>
/// <param name="Entries">Retained entries.</param>
/// <param name="Bytes">Payload bytes of the retained entries.</param>
/// <param name="FirstIndex">Log index of the oldest retained entry (0 when none).</param>
/// <param name="LastIndex">Log index of the newest retained entry (0 when none).</param>
public sealed record StreamInfo(string Name, ulong FirstSequence, ulong LastSequence, ulong Entries, ulong Bytes, ulong FirstIndex, ulong LastIndex);
