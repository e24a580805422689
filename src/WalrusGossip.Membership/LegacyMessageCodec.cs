namespace WalrusGossip.Membership;

/// <summary>Outcome of decoding a datagram or stream message.</summary>
internal enum DecodeStatus
{
    Ok = 0,
    Malformed = 1,
}

/// <summary>
/// Gossip protocol version 1, the hand-made format of releases up to 0.3, still spoken so that a cluster can be
/// upgraded one agent at a time (<see cref="MembershipOptions.ProtocolVersion"/> = 1 until every agent runs a
/// release that reads version 2, <see cref="MessageCodec"/>); every agent decodes both. To be removed once no
/// supported release sends it. All integers are LEB128 varints unless noted, strings = varint length +
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
internal static class LegacyMessageCodec
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
        ReadOnlySpan<byte> data,
        int maxMetadataBytes,
        List<GossipMessage> output,
        out int unknownTypes,
        out int metadataTooLarge,
        StringPool? pool = null)
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
            var bodyOffset = 0;
            if (!reader.TryReadByte(out var type)
                || !reader.TryReadLength(int.MaxValue, out var bodyLength)
                || !TryReadSpanAt(ref reader, bodyLength, out var body, out bodyOffset))
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
            if (!TryReadBody(ref bodyReader, (MessageType)type, maxMetadataBytes, pool, out var message)
                || bodyReader.Remaining != 0)
            {
                output.RemoveRange(start, output.Count - start);
                return DecodeStatus.Malformed;
            }

            if (message.MetadataTooLarge)
            {
                metadataTooLarge++;
            }

            message.MetadataStart += bodyOffset;
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
    /// Decodes a push-pull stream message. Entries carry the position of their encoded metadata in
    /// <paramref name="data"/> (read it with <see cref="ReadMetadata"/>); entries whose metadata is
    /// over the limit are flagged and counted in <paramref name="metadataTooLarge"/>.
    /// </summary>
    public static DecodeStatus DecodePushPull(
        ReadOnlySpan<byte> data,
        int maxMetadataBytes,
        List<PushPullEntry> output,
        out byte flags,
        out string from,
        out int metadataTooLarge,
        StringPool? pool = null)
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
            if (!reader.TryReadNonEmptyString(out var name, pool)
                || !reader.TryReadString(out var address, WireReader.MaxStringBytes, pool)
                || !reader.TryReadVarint(out var incarnation)
                || !reader.TryReadByte(out var state) || state > (byte)MemberState.Left
                || !TryReadMetadataSection(ref reader, maxMetadataBytes, out var sectionStart, out var sectionLength, out var tooLarge))
            {
                output.RemoveRange(start, output.Count - start);
                return DecodeStatus.Malformed;
            }

            if (tooLarge)
            {
                metadataTooLarge++;
            }

            output.Add(new PushPullEntry(name, address, incarnation, (MemberState)state, null)
            {
                MetadataStart = sectionStart,
                MetadataLength = sectionLength,
                MetadataTooLarge = tooLarge,
            });
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

    private static bool TryReadBody(ref WireReader r, MessageType type, int maxMetadataBytes, StringPool? pool, out GossipMessage m)
    {
        m = default;
        switch (type)
        {
            case MessageType.Ping:
            {
                if (!r.TryReadUInt32(out var seq) || !r.TryReadNonEmptyString(out var target, pool)
                    || !r.TryReadNonEmptyString(out var from, pool) || !r.TryReadString(out var address, WireReader.MaxStringBytes, pool))
                {
                    return false;
                }

                m = GossipMessage.Ping(seq, target, from, address);
                return true;
            }

            case MessageType.PingReq:
            {
                if (!r.TryReadUInt32(out var seq) || !r.TryReadNonEmptyString(out var target, pool)
                    || !r.TryReadNonEmptyString(out var address, pool) || !r.TryReadNonEmptyString(out var from, pool)
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
                if (!r.TryReadVarint(out var incarnation) || !r.TryReadNonEmptyString(out var member, pool)
                    || !r.TryReadNonEmptyString(out var from, pool))
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
                if (!r.TryReadVarint(out var incarnation) || !r.TryReadNonEmptyString(out var member, pool))
                {
                    return false;
                }

                m = GossipMessage.Left(incarnation, member);
                return true;
            }

            case MessageType.Alive:
            {
                if (!r.TryReadVarint(out var incarnation) || !r.TryReadNonEmptyString(out var member, pool)
                    || !r.TryReadString(out var address, WireReader.MaxStringBytes, pool)
                    || !TryReadMetadataSection(ref r, maxMetadataBytes, out var sectionStart, out var sectionLength, out var tooLarge))
                {
                    return false;
                }

                m = GossipMessage.Alive(incarnation, member, address, null);
                m.MetadataStart = sectionStart;
                m.MetadataLength = sectionLength;
                m.MetadataTooLarge = tooLarge;
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
    /// Validates a metadata section without allocating and reports where its body (count and pairs)
    /// lies in the reader's buffer. Over the limit: skipped, <paramref name="tooLarge"/> true, still
    /// returns true (the rest of the message is usable).
    /// </summary>
    private static bool TryReadMetadataSection(
        ref WireReader r, int maxMetadataBytes, out int start, out int length, out bool tooLarge)
    {
        start = 0;
        length = 0;
        tooLarge = false;
        if (!r.TryReadLength(int.MaxValue, out var sectionLength) || !TryReadSpanAt(ref r, sectionLength, out var section, out var sectionStart))
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

        for (ulong i = 0; i < count; i++)
        {
            if (!s.TryReadUtf8(WireReader.MaxStringBytes, out var key) || key.Length == 0
                || !s.TryReadUtf8(maxMetadataBytes, out _))
            {
                return false;
            }
        }

        start = sectionStart;
        length = sectionLength;
        return s.Remaining == 0;
    }

    /// <summary>
    /// Materialises a metadata section body that <see cref="TryReadMetadataSection"/> validated.
    /// Returns null when a key repeats (the only defect validation leaves to this step).
    /// </summary>
    public static IReadOnlyDictionary<string, string>? ReadMetadata(ReadOnlySpan<byte> section, StringPool? pool)
    {
        var r = new WireReader(section);
        if (!r.TryReadVarint(out var count) || count > MaxMetadataPairs)
        {
            return null;
        }

        if (count == 0)
        {
            return r.Remaining == 0 ? Metadata.Empty : null;
        }

        var map = new Dictionary<string, string>((int)count, StringComparer.Ordinal);
        for (ulong i = 0; i < count; i++)
        {
            if (!r.TryReadUtf8(WireReader.MaxStringBytes, out var keyBytes) || keyBytes.Length == 0
                || !r.TryReadString(out var value, section.Length)
                || !map.TryAdd(pool is null ? System.Text.Encoding.UTF8.GetString(keyBytes) : pool.Get(keyBytes, addIfMissing: true), value))
            {
                return null;
            }
        }

        return r.Remaining == 0 ? map : null;
    }

    private static bool TryReadSpanAt(ref WireReader r, int length, out ReadOnlySpan<byte> span, out int start)
    {
        start = r.Position;
        return r.TryReadSpan(length, out span);
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
