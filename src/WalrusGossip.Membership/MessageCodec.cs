using System.Buffers;
using System.Text;
using System.Text.Unicode;
using MessagePack;

namespace WalrusGossip.Membership;

/// <summary>
/// Gossip protocol version 2: every message is a MessagePack array (the msgpack spec,
/// github.com/msgpack/msgpack/blob/master/spec.md; memberlist frames its messages in msgpack as well), read and
/// written with MessagePack-CSharp's <see cref="MessagePackReader"/> and <see cref="MessagePackWriter"/>:
/// <code>
/// datagram = 0x02 message*                               (raw version byte, then msgpack values; ≤ MaxDatagramBytes)
/// message  = [type, field...]                            (msgpack array; type a positive integer)
/// Ping     = [1, seq, target, from, fromAddress]
/// PingReq  = [2, seq, target, targetAddress, from, wantNack]
/// Ack      = [3, seq]          Nack = [4, seq]
/// Suspect  = [5, incarnation, member, from]
/// Alive    = [6, incarnation, member, address, metadata]
/// Dead     = [7, incarnation, member, from]
/// Left     = [8, incarnation, member]
/// metadata = {key: value, ...}                           (msgpack map of str → str; encoded size ≤ MaxMetadataBytes)
/// stream   = 0x02 [9, flags, from, [entry...]]           (≤ MaxStreamMessageBytes)
/// entry    = [name, address, incarnation, state, metadata]
/// </code>
/// Names and addresses are msgpack str of 1-255 UTF-8 bytes (a Ping's address and an Alive's may be empty),
/// <c>seq</c> fits 32 bits, <c>incarnation</c> 64, <c>wantNack</c> is a msgpack bool, <c>state</c> a
/// <see cref="MemberState"/> number. Decoding never throws: truncated, mistyped or otherwise malformed input yields
/// <see cref="DecodeStatus.Malformed"/> and nothing of that input is used. A message of an unknown type is skipped
/// whole, and an array longer than its type needs has its extra elements skipped, so a later release may add a
/// message or a trailing field without breaking this one; skipping descends at most <see cref="MaxSkipDepth"/>
/// nested arrays or maps. Metadata over the limit is skipped and reported as too large.
/// </summary>
internal static class MessageCodec
{
    /// <summary>The raw first byte of a version-2 datagram or stream message.</summary>
    public const byte ProtocolVersion = 2;

    /// <summary>Deepest nesting of arrays and maps an unknown field may have and still be skipped.</summary>
    public const int MaxSkipDepth = 8;

    /// <summary>Most metadata pairs a map may hold.</summary>
    private const int MaxMetadataPairs = 256;

    /// <summary>Writes one message at the end of <paramref name="writer"/>.</summary>
    /// <exception cref="MembershipInvariantViolationException">The message type is PushPull or unknown (a bug).</exception>
    public static void WriteMessage(WireWriter writer, in GossipMessage m)
    {
        var w = new MessagePackWriter(writer);
        switch (m.Type)
        {
            case MessageType.Ping:
                w.WriteArrayHeader(5);
                w.Write((byte)m.Type);
                w.Write(m.Seq);
                w.Write(m.Member);
                w.Write(m.From);
                w.Write(m.Address);
                break;
            case MessageType.PingReq:
                w.WriteArrayHeader(6);
                w.Write((byte)m.Type);
                w.Write(m.Seq);
                w.Write(m.Member);
                w.Write(m.Address);
                w.Write(m.From);
                w.Write(m.WantNack);
                break;
            case MessageType.Ack:
            case MessageType.Nack:
                w.WriteArrayHeader(2);
                w.Write((byte)m.Type);
                w.Write(m.Seq);
                break;
            case MessageType.Suspect:
            case MessageType.Dead:
                w.WriteArrayHeader(4);
                w.Write((byte)m.Type);
                w.Write(m.Incarnation);
                w.Write(m.Member);
                w.Write(m.From);
                break;
            case MessageType.Left:
                w.WriteArrayHeader(3);
                w.Write((byte)m.Type);
                w.Write(m.Incarnation);
                w.Write(m.Member);
                break;
            case MessageType.Alive:
                w.WriteArrayHeader(5);
                w.Write((byte)m.Type);
                w.Write(m.Incarnation);
                w.Write(m.Member);
                w.Write(m.Address);
                WriteMetadata(ref w, m.Metadata ?? Metadata.Empty);
                break;
            default:
                throw new MembershipInvariantViolationException($"cannot encode message type {m.Type}");
        }

        w.Flush();
    }

    /// <summary>Encodes one message into a new array (used for queued broadcasts).</summary>
    public static byte[] EncodeMessage(in GossipMessage message)
    {
        var writer = new WireWriter(64);
        WriteMessage(writer, message);
        return writer.ToArray();
    }

    /// <summary>
    /// Decodes a datagram into <paramref name="output"/> (appended). On <see cref="DecodeStatus.Malformed"/>
    /// whatever was appended is removed again. Decoded Alive messages locate their metadata map in
    /// <paramref name="data"/> (read it with <see cref="ReadMetadata"/>).
    /// </summary>
    public static DecodeStatus DecodeDatagram(
        ReadOnlyMemory<byte> data,
        int maxMetadataBytes,
        List<GossipMessage> output,
        out int unknownTypes,
        out int metadataTooLarge,
        StringPool? pool = null)
    {
        unknownTypes = 0;
        metadataTooLarge = 0;
        var start = output.Count;
        if (data.Length < 2 || data.Span[0] != ProtocolVersion)
        {
            return DecodeStatus.Malformed;
        }

        var unknown = 0;
        var tooLarge = 0;
        try
        {
            var r = new MessagePackReader(data[1..]);
            while (!r.End)
            {
                if (!TryReadMessage(ref r, maxMetadataBytes, pool, out var message, out var known))
                {
                    output.RemoveRange(start, output.Count - start);
                    return DecodeStatus.Malformed;
                }

                if (!known)
                {
                    unknown++;
                    continue;
                }

                if (message.MetadataTooLarge)
                {
                    tooLarge++;
                }

                message.MetadataStart++; // the reader started after the version byte
                output.Add(message);
            }
        }
        catch (Exception e) when (IsDecodeFailure(e))
        {
            output.RemoveRange(start, output.Count - start);
            return DecodeStatus.Malformed;
        }

        unknownTypes = unknown;
        metadataTooLarge = tooLarge;
        return DecodeStatus.Ok;
    }

    /// <summary>Encodes a push-pull stream message carrying <paramref name="entries"/>.</summary>
    public static byte[] EncodePushPull(bool join, bool response, string from, IReadOnlyList<PushPullEntry> entries)
    {
        var writer = new WireWriter(64 + (entries.Count * 96));
        writer.WriteByte(ProtocolVersion);
        var w = new MessagePackWriter(writer);
        w.WriteArrayHeader(4);
        w.Write((byte)MessageType.PushPull);
        w.Write((byte)((join ? LegacyMessageCodec.PushPullJoinFlag : 0) | (response ? LegacyMessageCodec.PushPullResponseFlag : 0)));
        w.Write(from);
        w.WriteArrayHeader(entries.Count);
        for (var i = 0; i < entries.Count; i++)
        {
            var entry = entries[i];
            w.WriteArrayHeader(5);
            w.Write(entry.Name);
            w.Write(entry.Address);
            w.Write(entry.Incarnation);
            w.Write((byte)entry.State);
            WriteMetadata(ref w, entry.Metadata ?? Metadata.Empty);
        }

        w.Flush();
        return writer.ToArray();
    }

    /// <summary>
    /// Decodes a push-pull stream message. Entries carry the position of their metadata map in
    /// <paramref name="data"/> (read it with <see cref="ReadMetadata"/>); entries whose metadata is over the limit
    /// are flagged and counted in <paramref name="metadataTooLarge"/>.
    /// </summary>
    public static DecodeStatus DecodePushPull(
        ReadOnlyMemory<byte> data,
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
        if (data.Length < 2 || data.Span[0] != ProtocolVersion)
        {
            return DecodeStatus.Malformed;
        }

        try
        {
            var r = new MessagePackReader(data[1..]);
            var fields = r.ReadArrayHeader();
            if (fields < 4 || r.ReadUInt32() != (uint)MessageType.PushPull)
            {
                return DecodeStatus.Malformed;
            }

            var flagBits = r.ReadByte();
            if ((flagBits & ~(LegacyMessageCodec.PushPullJoinFlag | LegacyMessageCodec.PushPullResponseFlag)) != 0
                || !TryReadName(ref r, pool, allowEmpty: false, out var sender))
            {
                return DecodeStatus.Malformed;
            }

            var count = r.ReadArrayHeader();
            var tooLarge = 0;
            for (var i = 0; i < count; i++)
            {
                var entryFields = r.ReadArrayHeader();
                if (entryFields < 5
                    || !TryReadName(ref r, pool, allowEmpty: false, out var name)
                    || !TryReadName(ref r, pool, allowEmpty: true, out var address))
                {
                    output.RemoveRange(start, output.Count - start);
                    return DecodeStatus.Malformed;
                }

                var incarnation = r.ReadUInt64();
                var state = r.ReadByte();
                if (state > (byte)MemberState.Left
                    || !TryReadMetadataSection(ref r, maxMetadataBytes, out var sectionStart, out var sectionLength, out var entryTooLarge)
                    || !TrySkipExtra(ref r, entryFields - 5))
                {
                    output.RemoveRange(start, output.Count - start);
                    return DecodeStatus.Malformed;
                }

                if (entryTooLarge)
                {
                    tooLarge++;
                }

                output.Add(new PushPullEntry(name, address, incarnation, (MemberState)state, null)
                {
                    MetadataStart = sectionStart + 1,
                    MetadataLength = sectionLength,
                    MetadataTooLarge = entryTooLarge,
                });
            }

            if (!TrySkipExtra(ref r, fields - 4) || !r.End)
            {
                output.RemoveRange(start, output.Count - start);
                return DecodeStatus.Malformed;
            }

            flags = flagBits;
            from = sender;
            metadataTooLarge = tooLarge;
            return DecodeStatus.Ok;
        }
        catch (Exception e) when (IsDecodeFailure(e))
        {
            output.RemoveRange(start, output.Count - start);
            return DecodeStatus.Malformed;
        }
    }

    /// <summary>Bytes <paramref name="metadata"/> takes on the wire as a msgpack map.</summary>
    public static int MetadataSize(IReadOnlyDictionary<string, string> metadata)
    {
        var size = metadata.Count < 16 ? 1 : metadata.Count < 65_536 ? 3 : 5;
        foreach (var (key, value) in metadata)
        {
            size += StringSize(key) + StringSize(value);
        }

        return size;
    }

    /// <summary>
    /// Materialises a metadata map that decoding validated (<see cref="GossipMessage.MetadataStart"/> and
    /// <see cref="GossipMessage.MetadataLength"/> locate it). Returns null when a key repeats (the only defect
    /// validation leaves to this step) or the bytes are not such a map.
    /// </summary>
    public static IReadOnlyDictionary<string, string>? ReadMetadata(ReadOnlyMemory<byte> section, StringPool? pool)
    {
        try
        {
            var r = new MessagePackReader(section);
            var count = r.ReadMapHeader();
            if (count > MaxMetadataPairs)
            {
                return null;
            }

            if (count == 0)
            {
                return r.End ? Metadata.Empty : null;
            }

            var map = new Dictionary<string, string>(count, StringComparer.Ordinal);
            for (var i = 0; i < count; i++)
            {
                if (!r.TryReadStringSpan(out var keyBytes) || keyBytes.Length == 0 || !Utf8.IsValid(keyBytes)
                    || !r.TryReadStringSpan(out var valueBytes) || !Utf8.IsValid(valueBytes))
                {
                    return null;
                }

                var key = pool is null ? Encoding.UTF8.GetString(keyBytes) : pool.Get(keyBytes, addIfMissing: true);
                if (!map.TryAdd(key, Encoding.UTF8.GetString(valueBytes)))
                {
                    return null;
                }
            }

            return r.End ? map : null;
        }
        catch (Exception e) when (IsDecodeFailure(e))
        {
            return null;
        }
    }

    /// <summary>
    /// The exceptions <see cref="MessagePackReader"/> raises for bytes that are not what was asked for: truncated
    /// (<see cref="EndOfStreamException"/>), the wrong type code (<see cref="MessagePackSerializationException"/>), or a
    /// number that does not fit (<see cref="OverflowException"/>); and <see cref="ArgumentOutOfRangeException"/>, which
    /// 2.5's <see cref="MessagePackReader.Skip"/> throws for a str or bin whose length runs past the end (found by the
    /// fuzz test). Anything else is a bug and propagates.
    /// </summary>
    private static bool IsDecodeFailure(Exception e) =>
        e is EndOfStreamException or MessagePackSerializationException or OverflowException or ArgumentOutOfRangeException;

    private static bool TryReadMessage(ref MessagePackReader r, int maxMetadataBytes, StringPool? pool, out GossipMessage m, out bool known)
    {
        m = default;
        known = false;
        var fields = r.ReadArrayHeader();
        if (fields < 1 || r.NextMessagePackType != MessagePackType.Integer)
        {
            return false;
        }

        var type = r.ReadUInt64();
        if (type is < (ulong)MessageType.Ping or > (ulong)MessageType.Left)
        {
            return TrySkipExtra(ref r, fields - 1);
        }

        known = true;
        int used;
        switch ((MessageType)type)
        {
            case MessageType.Ping:
            {
                used = 5;
                if (fields < used)
                {
                    return false;
                }

                var seq = r.ReadUInt32();
                if (!TryReadName(ref r, pool, false, out var target) || !TryReadName(ref r, pool, false, out var from)
                    || !TryReadName(ref r, pool, true, out var address))
                {
                    return false;
                }

                m = GossipMessage.Ping(seq, target, from, address);
                break;
            }

            case MessageType.PingReq:
            {
                used = 6;
                if (fields < used)
                {
                    return false;
                }

                var seq = r.ReadUInt32();
                if (!TryReadName(ref r, pool, false, out var target) || !TryReadName(ref r, pool, false, out var address)
                    || !TryReadName(ref r, pool, false, out var from))
                {
                    return false;
                }

                m = GossipMessage.PingReq(seq, target, address, from, r.ReadBoolean());
                break;
            }

            case MessageType.Ack:
            case MessageType.Nack:
            {
                used = 2;
                if (fields < used)
                {
                    return false;
                }

                var seq = r.ReadUInt32();
                m = type == (ulong)MessageType.Ack ? GossipMessage.Ack(seq) : GossipMessage.Nack(seq);
                break;
            }

            case MessageType.Suspect:
            case MessageType.Dead:
            {
                used = 4;
                if (fields < used)
                {
                    return false;
                }

                var incarnation = r.ReadUInt64();
                if (!TryReadName(ref r, pool, false, out var member) || !TryReadName(ref r, pool, false, out var from))
                {
                    return false;
                }

                m = type == (ulong)MessageType.Suspect
                    ? GossipMessage.Suspect(incarnation, member, from)
                    : GossipMessage.Dead(incarnation, member, from);
                break;
            }

            case MessageType.Left:
            {
                used = 3;
                if (fields < used)
                {
                    return false;
                }

                var incarnation = r.ReadUInt64();
                if (!TryReadName(ref r, pool, false, out var member))
                {
                    return false;
                }

                m = GossipMessage.Left(incarnation, member);
                break;
            }

            default: // Alive; PushPull never travels in a datagram and was refused by the range check above
            {
                used = 5;
                if (fields < used || type != (ulong)MessageType.Alive)
                {
                    return false;
                }

                var incarnation = r.ReadUInt64();
                if (!TryReadName(ref r, pool, false, out var member) || !TryReadName(ref r, pool, true, out var address)
                    || !TryReadMetadataSection(ref r, maxMetadataBytes, out var sectionStart, out var sectionLength, out var tooLarge))
                {
                    return false;
                }

                m = GossipMessage.Alive(incarnation, member, address, null);
                m.MetadataStart = sectionStart;
                m.MetadataLength = sectionLength;
                m.MetadataTooLarge = tooLarge;
                break;
            }
        }

        return TrySkipExtra(ref r, fields - used);
    }

    /// <summary>A msgpack str of valid UTF-8, at most <see cref="WireReader.MaxStringBytes"/>, empty only when allowed.</summary>
    private static bool TryReadName(ref MessagePackReader r, StringPool? pool, bool allowEmpty, out string value)
    {
        value = "";
        if (!r.TryReadStringSpan(out var bytes) || bytes.Length > WireReader.MaxStringBytes || !Utf8.IsValid(bytes))
        {
            return false;
        }

        if (bytes.Length == 0)
        {
            return allowEmpty;
        }

        value = pool is null ? Encoding.UTF8.GetString(bytes) : pool.Get(bytes, addIfMissing: false);
        return true;
    }

    /// <summary>
    /// Validates a metadata map without allocating and reports where it lies in the reader's input. Over the limit:
    /// skipped, <paramref name="tooLarge"/> true, still returns true (the rest of the message is usable).
    /// </summary>
    private static bool TryReadMetadataSection(ref MessagePackReader r, int maxMetadataBytes, out int start, out int length, out bool tooLarge)
    {
        start = (int)r.Consumed;
        length = 0;
        tooLarge = false;
        var count = r.ReadMapHeader();
        if (count > MaxMetadataPairs)
        {
            return false;
        }

        for (var i = 0; i < count; i++)
        {
            if (!r.TryReadStringSpan(out var key) || key.Length == 0 || key.Length > WireReader.MaxStringBytes || !Utf8.IsValid(key)
                || !r.TryReadStringSpan(out var value) || !Utf8.IsValid(value))
            {
                return false;
            }
        }

        length = (int)r.Consumed - start;
        if (length > maxMetadataBytes)
        {
            tooLarge = true;
            start = 0;
            length = 0;
        }

        return true;
    }

    private static void WriteMetadata(ref MessagePackWriter w, IReadOnlyDictionary<string, string> metadata)
    {
        w.WriteMapHeader(metadata.Count);
        if (metadata.Count == 0)
        {
            return;
        }

        var keys = new string[metadata.Count];
        var i = 0;
        foreach (var key in metadata.Keys)
        {
            keys[i++] = key;
        }

        Array.Sort(keys, StringComparer.Ordinal);
        foreach (var key in keys)
        {
            w.Write(key);
            w.Write(metadata[key]);
        }
    }

    /// <summary>Skips <paramref name="count"/> values a later release may have appended to an array.</summary>
    private static bool TrySkipExtra(ref MessagePackReader r, int count) => TrySkipValues(ref r, MaxSkipDepth, count);

    /// <summary>Skips <paramref name="count"/> values, descending at most <paramref name="depth"/> nested arrays or maps (the library's own skip has no bound).</summary>
    private static bool TrySkipValues(ref MessagePackReader r, int depth, long count)
    {
        for (long i = 0; i < count; i++)
        {
            switch (r.NextMessagePackType)
            {
                case MessagePackType.Array:
                    if (depth == 0 || !TrySkipValues(ref r, depth - 1, r.ReadArrayHeader()))
                    {
                        return false;
                    }

                    break;
                case MessagePackType.Map:
                    if (depth == 0 || !TrySkipValues(ref r, depth - 1, r.ReadMapHeader() * 2L))
                    {
                        return false;
                    }

                    break;
                case MessagePackType.Unknown:
                    return false;
                default:
                    r.Skip(); // a scalar, str, bin or ext: no nesting
                    break;
            }
        }

        return true;
    }

    private static int StringSize(string value)
    {
        var bytes = Encoding.UTF8.GetByteCount(value);
        return bytes + (bytes < 32 ? 1 : bytes < 256 ? 2 : bytes < 65_536 ? 3 : 5);
    }
}
