namespace WalrusGossip.Membership;

/// <summary>Outcome of decoding a datagram or stream message.</summary>
internal enum DecodeStatus
{
    Ok = 0,
    Malformed = 1,
}

/// <summary>
/// The gossip wire format (all integers LEB128 varints unless noted, strings = varint length +
/// UTF-8, at most 255 bytes):
/// <code>
/// datagram  = version:u8(=1) message*                      (≤ MaxDatagramBytes)
/// message   = type:u8 bodyLength body
/// Ping      = seq target from fromAddress
/// PingReq   = seq target targetAddress from wantNack:u8
/// Ack, Nack = seq
/// Suspect   = incarnation member from
/// Dead      = incarnation member from
/// Left      = incarnation member
/// Alive     = incarnation member address metadata
/// metadata  = sectionLength count (key value)*            (sectionLength ≤ MaxMetadataBytes)
/// stream    = version:u8(=1) type:u8(=PushPull) flags:u8 from count entry*   (≤ MaxStreamMessageBytes)
/// entry     = name address incarnation state:u8 metadata
/// </code>
/// Decoding never throws: truncated, overlong or otherwise malformed input yields
/// <see cref="DecodeStatus.Malformed"/> and nothing from that input is used; a message of an unknown
/// type is skipped by its length; metadata over the limit is skipped and reported as null.
/// </summary>
internal static class MessageCodec
{
    public const byte ProtocolVersion = 1;
    public const byte PushPullJoinFlag = 1;
    public const byte PushPullResponseFlag = 2;

    /// <summary>Most metadata pairs a map may hold (each pair costs at least 3 bytes anyway).</summary>
    private const int MaxMetadataPairs = 256;

    /// <summary>Writes one framed message (type, body length, body) at the end of <paramref name="writer"/>.</summary>
    public static void WriteFramed(WireWriter writer, in GossipMessage message)
    {
        writer.WriteByte((byte)message.Type);
        var bodyStart = writer.Length;
        WriteBody(writer, message);
        var bodyLength = writer.Length - bodyStart;
        Span<byte> prefix = stackalloc byte[10];
        var prefixLength = WriteVarint(prefix, (ulong)bodyLength);
        writer.Insert(bodyStart, prefix[..prefixLength]);
    }

    /// <summary>Encodes one framed message into a new array (used for queued broadcasts).</summary>
    public static byte[] EncodeFramed(in GossipMessage message)
    {
        var writer = new WireWriter(64);
        WriteFramed(writer, message);
        return writer.ToArray();
    }

    /// <summary>
    /// Decodes a datagram into <paramref name="output"/> (appended). On <see cref="DecodeStatus.Malformed"/>
    /// whatever was appended is removed again.
    /// </summary>
    public static DecodeStatus DecodeDatagram(
        ReadOnlySpan<byte> data, int maxMetadataBytes, List<GossipMessage> output, out int unknownTypes, out int metadataTooLarge)
    {
        unknownTypes = 0;
        metadataTooLarge = 0;
        var start = output.Count;
        var reader = new WireReader(data);
        if (!reader.TryReadByte(out var version) || version != ProtocolVersion || reader.Remaining == 0)
        {
            return DecodeStatus.Malformed;
        }

        while (reader.Remaining > 0)
        {
            if (!reader.TryReadByte(out var type)
                || !reader.TryReadLength(int.MaxValue, out var bodyLength)
                || !reader.TryReadSpan(bodyLength, out var body))
            {
                output.RemoveRange(start, output.Count - start);
                return DecodeStatus.Malformed;
            }

            if (type is < (byte)MessageType.Ping or > (byte)MessageType.Left)
            {
                unknownTypes++;
                continue;
            }

            var bodyReader = new WireReader(body);
            if (!TryReadBody(ref bodyReader, (MessageType)type, maxMetadataBytes, out var message, out var tooLarge)
                || bodyReader.Remaining != 0)
            {
                output.RemoveRange(start, output.Count - start);
                return DecodeStatus.Malformed;
            }

            if (tooLarge)
            {
                metadataTooLarge++;
            }

            output.Add(message);
        }

        return DecodeStatus.Ok;
    }

    /// <summary>Encodes a push-pull stream message carrying <paramref name="entries"/>.</summary>
    public static byte[] EncodePushPull(bool join, bool response, string from, IReadOnlyList<PushPullEntry> entries)
    {
        var writer = new WireWriter(64 + (entries.Count * 96));
        writer.WriteByte(ProtocolVersion);
        writer.WriteByte((byte)MessageType.PushPull);
        writer.WriteByte((byte)((join ? PushPullJoinFlag : 0) | (response ? PushPullResponseFlag : 0)));
        writer.WriteString(from);
        writer.WriteVarint((ulong)entries.Count);
        for (var i = 0; i < entries.Count; i++)
        {
            var entry = entries[i];
            writer.WriteString(entry.Name);
            writer.WriteString(entry.Address);
            writer.WriteVarint(entry.Incarnation);
            writer.WriteByte((byte)entry.State);
            WriteMetadata(writer, entry.Metadata ?? Metadata.Empty);
        }

        return writer.ToArray();
    }

    /// <summary>
    /// Decodes a push-pull stream message. Entries whose metadata is over the limit come back with
    /// null metadata and are counted in <paramref name="metadataTooLarge"/>.
    /// </summary>
    public static DecodeStatus DecodePushPull(
        ReadOnlySpan<byte> data, int maxMetadataBytes, List<PushPullEntry> output, out byte flags, out string from, out int metadataTooLarge)
    {
        flags = 0;
        from = "";
        metadataTooLarge = 0;
        var start = output.Count;
        var reader = new WireReader(data);
        if (!reader.TryReadByte(out var version) || version != ProtocolVersion
            || !reader.TryReadByte(out var type) || type != (byte)MessageType.PushPull
            || !reader.TryReadByte(out flags) || (flags & ~(PushPullJoinFlag | PushPullResponseFlag)) != 0
            || !reader.TryReadNonEmptyString(out from)
            || !reader.TryReadVarint(out var count) || count > (ulong)reader.Remaining)
        {
            return DecodeStatus.Malformed;
        }

        for (ulong i = 0; i < count; i++)
        {
            if (!reader.TryReadNonEmptyString(out var name)
                || !reader.TryReadString(out var address)
                || !reader.TryReadVarint(out var incarnation)
                || !reader.TryReadByte(out var state) || state > (byte)MemberState.Left
                || !TryReadMetadata(ref reader, maxMetadataBytes, out var metadata, out var tooLarge))
            {
                output.RemoveRange(start, output.Count - start);
                return DecodeStatus.Malformed;
            }

            if (tooLarge)
            {
                metadataTooLarge++;
            }

            output.Add(new PushPullEntry(name, address, incarnation, (MemberState)state, metadata));
        }

        if (reader.Remaining != 0)
        {
            output.RemoveRange(start, output.Count - start);
            return DecodeStatus.Malformed;
        }

        return DecodeStatus.Ok;
    }

    /// <summary>Bytes the metadata section body takes on the wire (count and pairs, without the section length).</summary>
    public static int MetadataSize(IReadOnlyDictionary<string, string> metadata)
    {
        var size = WireWriter.VarintSize((ulong)metadata.Count);
        foreach (var (key, value) in metadata)
        {
            size += StringSize(key) + StringSize(value);
        }

        return size;
    }

    private static int StringSize(string value)
    {
        var bytes = System.Text.Encoding.UTF8.GetByteCount(value);
        return WireWriter.VarintSize((ulong)bytes) + bytes;
    }

    private static void WriteBody(WireWriter writer, in GossipMessage m)
    {
        switch (m.Type)
        {
            case MessageType.Ping:
                writer.WriteVarint(m.Seq);
                writer.WriteString(m.Member);
                writer.WriteString(m.From);
                writer.WriteString(m.Address);
                break;
            case MessageType.PingReq:
                writer.WriteVarint(m.Seq);
                writer.WriteString(m.Member);
                writer.WriteString(m.Address);
                writer.WriteString(m.From);
                writer.WriteByte(m.WantNack ? (byte)1 : (byte)0);
                break;
            case MessageType.Ack:
            case MessageType.Nack:
                writer.WriteVarint(m.Seq);
                break;
            case MessageType.Suspect:
            case MessageType.Dead:
                writer.WriteVarint(m.Incarnation);
                writer.WriteString(m.Member);
                writer.WriteString(m.From);
                break;
            case MessageType.Left:
                writer.WriteVarint(m.Incarnation);
                writer.WriteString(m.Member);
                break;
            case MessageType.Alive:
                writer.WriteVarint(m.Incarnation);
                writer.WriteString(m.Member);
                writer.WriteString(m.Address);
                WriteMetadata(writer, m.Metadata ?? Metadata.Empty);
                break;
            default:
                throw new MembershipInvariantViolationException($"cannot encode message type {m.Type}");
        }
    }

    private static bool TryReadBody(
        ref WireReader r, MessageType type, int maxMetadataBytes, out GossipMessage m, out bool metadataTooLarge)
    {
        m = default;
        metadataTooLarge = false;
        switch (type)
        {
            case MessageType.Ping:
            {
                if (!r.TryReadUInt32(out var seq) || !r.TryReadNonEmptyString(out var target)
                    || !r.TryReadNonEmptyString(out var from) || !r.TryReadString(out var address))
                {
                    return false;
                }

                m = GossipMessage.Ping(seq, target, from, address);
                return true;
            }

            case MessageType.PingReq:
            {
                if (!r.TryReadUInt32(out var seq) || !r.TryReadNonEmptyString(out var target)
                    || !r.TryReadNonEmptyString(out var address) || !r.TryReadNonEmptyString(out var from)
                    || !r.TryReadByte(out var nack) || nack > 1)
                {
                    return false;
                }

                m = GossipMessage.PingReq(seq, target, address, from, nack == 1);
                return true;
            }

            case MessageType.Ack:
            case MessageType.Nack:
            {
                if (!r.TryReadUInt32(out var seq))
                {
                    return false;
                }

                m = type == MessageType.Ack ? GossipMessage.Ack(seq) : GossipMessage.Nack(seq);
                return true;
            }

            case MessageType.Suspect:
            case MessageType.Dead:
            {
                if (!r.TryReadVarint(out var incarnation) || !r.TryReadNonEmptyString(out var member)
                    || !r.TryReadNonEmptyString(out var from))
                {
                    return false;
                }

                m = type == MessageType.Suspect
                    ? GossipMessage.Suspect(incarnation, member, from)
                    : GossipMessage.Dead(incarnation, member, from);
                return true;
            }

            case MessageType.Left:
            {
                if (!r.TryReadVarint(out var incarnation) || !r.TryReadNonEmptyString(out var member))
                {
                    return false;
                }

                m = GossipMessage.Left(incarnation, member);
                return true;
            }

            case MessageType.Alive:
            {
                if (!r.TryReadVarint(out var incarnation) || !r.TryReadNonEmptyString(out var member)
                    || !r.TryReadString(out var address)
                    || !TryReadMetadata(ref r, maxMetadataBytes, out var metadata, out metadataTooLarge))
                {
                    return false;
                }

                m = GossipMessage.Alive(incarnation, member, address, Metadata.Empty);
                m.Metadata = metadata;
                return true;
            }

            default:
                return false;
        }
    }

    private static void WriteMetadata(WireWriter writer, IReadOnlyDictionary<string, string> metadata)
    {
        writer.WriteVarint((ulong)MetadataSize(metadata));
        writer.WriteVarint((ulong)metadata.Count);
        var keys = new string[metadata.Count];
        var i = 0;
        foreach (var key in metadata.Keys)
        {
            keys[i++] = key;
        }

        Array.Sort(keys, StringComparer.Ordinal);
        foreach (var key in keys)
        {
            writer.WriteString(key);
            writer.WriteString(metadata[key]);
        }
    }

    /// <summary>
    /// Reads a metadata section. Over the limit: skipped, <paramref name="metadata"/> null,
    /// <paramref name="tooLarge"/> true, still returns true (the rest of the message is usable).
    /// </summary>
    private static bool TryReadMetadata(
        ref WireReader r, int maxMetadataBytes, out IReadOnlyDictionary<string, string>? metadata, out bool tooLarge)
    {
        metadata = null;
        tooLarge = false;
        if (!r.TryReadLength(int.MaxValue, out var sectionLength) || !r.TryReadSpan(sectionLength, out var section))
        {
            return false;
        }

        if (sectionLength > maxMetadataBytes)
        {
            tooLarge = true;
            return true;
        }

        var s = new WireReader(section);
        if (!s.TryReadVarint(out var count) || count > MaxMetadataPairs)
        {
            return false;
        }

        if (count == 0)
        {
            metadata = Metadata.Empty;
            return s.Remaining == 0;
        }

        var map = new Dictionary<string, string>((int)count, StringComparer.Ordinal);
        for (ulong i = 0; i < count; i++)
        {
            if (!s.TryReadNonEmptyString(out var key) || !s.TryReadString(out var value, maxMetadataBytes)
                || !map.TryAdd(key, value))
            {
                return false;
            }
        }

        metadata = map;
        return s.Remaining == 0;
    }

    private static int WriteVarint(Span<byte> destination, ulong value)
    {
        var i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }

        destination[i++] = (byte)value;
        return i;
    }
}
