using System.Collections.Concurrent;

namespace WalrusGossip.Node;

/// <summary>What a stream holds at one moment (<see cref="StreamIndex.Info"/>).</summary>
/// <param name="Name">The stream's name (1-255 UTF-8 bytes).</param>
/// <param name="FirstSequence">Sequence of the oldest retained entry; <paramref name="LastSequence"/> + 1 when none is retained.</param>
/// <param name="LastSequence">Sequence of the newest entry (0 before the first); sequences start at 1 and have no gaps.</param>
/// <param name="Entries">Retained entries: <paramref name="LastSequence"/> - <paramref name="FirstSequence"/> + 1.</param>
/// <param name="Bytes">Application bytes of the retained entries.</param>
/// <param name="FirstIndex">Log index of the oldest retained entry (0 when none).</param>
/// <param name="LastIndex">Log index of the newest entry (0 before the first).</param>
public readonly record struct StreamInfo(string Name, ulong FirstSequence, ulong LastSequence, ulong Entries, ulong Bytes, ulong FirstIndex, ulong LastIndex);

/// <summary>One entry of a stream: its per-stream sequence and where it is in the log.</summary>
/// <param name="Sequence">Per-stream sequence, from 1.</param>
/// <param name="Index">Log index.</param>
public readonly record struct StreamPosition(ulong Sequence, ulong Index);

/// <summary>
/// The per-stream index kept by the state machine (issue 19): for every stream, (stream sequence → log index) of each
/// entry applied to it, so reading stream S from sequence N costs O(entries returned) and never scans other streams'
/// entries. Sequences are assigned at apply time, in log order, from 1 without gaps, so every replica that applied the
/// same prefix numbers the same entries alike; duplicate copies of retried appends and expired appends get none.
/// </summary>
/// <remarks>
/// <para>Written by the node loop only (<see cref="Append"/>, <see cref="TrimBelow"/>, <see cref="ReplaceWith"/>); read from
/// any thread. Each stream's entries live in 4,096-entry chunks of (log index, cumulative bytes): 16 bytes per retained
/// entry, 32 MiB for 2 M entries. A per-stream lock guards them; readers bound what they return by the log index of
/// their committed view, so an entry applied after the view was taken is never served through it.</para>
/// <para>Persisted inside the state-machine snapshot (<see cref="WriteTo"/>): per stream its last sequence, then the
/// retained entries as varint deltas of log index and varint sizes (about 3 bytes an entry).</para>
/// </remarks>
public sealed class StreamIndex
{
    private const int ChunkShift = 12;
    private const int ChunkSize = 1 << ChunkShift;

    private volatile ConcurrentDictionary<string, Stream> _streams = new(StringComparer.Ordinal);

    /// <summary>Number of streams (every stream that ever had an entry, retained or not).</summary>
    public int Count => _streams.Count;

    /// <summary>
    /// The name string of the stream whose UTF-8 name is <paramref name="utf8Name"/>: the one the index already holds
    /// when the stream exists (no allocation, the common case on the apply path), else a new string.
    /// </summary>
    /// <param name="utf8Name">A stream tag as an append command carries it (at most <see cref="AppendCommand.MaxStreamBytes"/> bytes).</param>
    /// <returns>The name.</returns>
    public string NameOf(ReadOnlySpan<byte> utf8Name)
    {
        Span<char> chars = stackalloc char[AppendCommand.MaxStreamBytes];
        if (utf8Name.Length <= AppendCommand.MaxStreamBytes && System.Text.Encoding.UTF8.TryGetChars(utf8Name, chars, out var written)
            && _streams.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(chars[..written], out var known))
        {
            return known.Name;
        }

        return System.Text.Encoding.UTF8.GetString(utf8Name);
    }

    /// <summary>Records an applied entry of <paramref name="stream"/> and returns its stream sequence.</summary>
    /// <param name="stream">Stream name, non-empty.</param>
    /// <param name="index">Its log index; above every index recorded for that stream.</param>
    /// <param name="bytes">Its application bytes.</param>
    /// <returns>The new entry's sequence (the previous last + 1).</returns>
    /// <exception cref="ArgumentException"><paramref name="index"/> is not above the stream's last index.</exception>
    public ulong Append(string stream, ulong index, int bytes)
    {
        ArgumentException.ThrowIfNullOrEmpty(stream);
        var streams = _streams;
        if (!streams.TryGetValue(stream, out var s))
        {
            s = streams.GetOrAdd(stream, name => new Stream(name));
        }

        return s.Append(index, bytes);
    }

    /// <summary>The sequence of the entry of <paramref name="stream"/> at log index <paramref name="index"/>, or 0 when that stream holds no such (retained) entry.</summary>
    /// <param name="stream">Stream name.</param>
    /// <param name="index">A log index.</param>
    /// <returns>The sequence or 0.</returns>
    public ulong SequenceOf(string stream, ulong index) => _streams.TryGetValue(stream, out var s) ? s.SequenceOf(index) : 0;

    /// <summary>The sequence of the first retained entry of <paramref name="stream"/> at or after log index <paramref name="index"/>: the last sequence + 1 when none is, 1 for a stream without entries.</summary>
    /// <param name="stream">Stream name.</param>
    /// <param name="index">A log index.</param>
    /// <returns>A stream sequence, at least 1.</returns>
    public ulong SequenceAtOrAfter(string stream, ulong index) => _streams.TryGetValue(stream, out var s) ? s.SequenceAtOrAfter(index) : 1;

    /// <summary>What <paramref name="stream"/> holds, or null when it never had an entry.</summary>
    /// <param name="stream">Stream name.</param>
    /// <param name="upTo">Count only entries at or below this log index (a reader's committed view).</param>
    /// <returns>The stream's info.</returns>
    public StreamInfo? Info(string stream, ulong upTo = ulong.MaxValue) => _streams.TryGetValue(stream, out var s) ? s.Info(upTo) : null;

    /// <summary>Every stream's info, ordered by name.</summary>
    /// <param name="upTo">Count only entries at or below this log index.</param>
    /// <returns>The streams.</returns>
    public IReadOnlyList<StreamInfo> List(ulong upTo = ulong.MaxValue) =>
        [.. _streams.Values.Select(s => s.Info(upTo)).OrderBy(i => i.Name, StringComparer.Ordinal)];

    /// <summary>
    /// Positions of up to <paramref name="maxCount"/> entries of <paramref name="stream"/> from sequence
    /// <paramref name="fromSequence"/> whose log index is at most <paramref name="upTo"/>, in sequence order.
    /// </summary>
    /// <param name="stream">Stream name.</param>
    /// <param name="fromSequence">First sequence wanted, at least 1.</param>
    /// <param name="maxCount">Most positions, at least 1.</param>
    /// <param name="upTo">Highest log index to return.</param>
    /// <param name="into">Receives the positions.</param>
    /// <returns>The stream's first retained sequence at the time of the call (above <paramref name="fromSequence"/> when those entries were trimmed), or 0 when the stream does not exist.</returns>
    public ulong Locate(string stream, ulong fromSequence, int maxCount, ulong upTo, List<StreamPosition> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        return _streams.TryGetValue(stream, out var s) ? s.Locate(Math.Max(fromSequence, 1), maxCount, upTo, into) : 0;
    }

    /// <summary>Drops every stream entry below log index <paramref name="firstRetainedIndex"/> (the log's prefix was compacted); sequences are kept.</summary>
    /// <param name="firstRetainedIndex">The log's first retained index.</param>
    public void TrimBelow(ulong firstRetainedIndex)
    {
        foreach (var s in _streams.Values)
        {
            s.TrimBelow(firstRetainedIndex);
        }
    }

    /// <summary>Replaces the whole index with <paramref name="other"/>'s streams (a snapshot restore); readers holding the old streams finish on them.</summary>
    /// <param name="other">An index read by <see cref="ReadFrom"/>.</param>
    public void ReplaceWith(StreamIndex other)
    {
        ArgumentNullException.ThrowIfNull(other);
        _streams = other._streams;
    }

    /// <summary>A digest of every stream's (name, first and last sequence, bytes, first and last index), for comparing replicas.</summary>
    /// <returns>16 hex digits.</returns>
    public string Digest()
    {
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        Span<byte> fields = stackalloc byte[40];
        foreach (var info in List())
        {
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(info.Name + "\0"));
            BitConverter.TryWriteBytes(fields, info.FirstSequence);
            BitConverter.TryWriteBytes(fields[8..], info.LastSequence);
            BitConverter.TryWriteBytes(fields[16..], info.Bytes);
            BitConverter.TryWriteBytes(fields[24..], info.FirstIndex);
            BitConverter.TryWriteBytes(fields[32..], info.LastIndex);
            hash.AppendData(fields);
        }

        return Convert.ToHexString(hash.GetHashAndReset(), 0, 8);
    }

    /// <summary>
    /// Encodes the index: a stream count; per stream (by name) a record of its name, last sequence and retained
    /// entries, each a record of (index - previous index) and size. The legacy layout (snapshot versions 3-4) has u32
    /// count, LEB128 varints and a varint retained count instead of a collection.
    /// </summary>
    internal void WriteTo(StateWriter writer)
    {
        var streams = _streams.Values.OrderBy(s => s.Name, StringComparer.Ordinal).ToList();
        writer.WriteCount(streams.Count);
        foreach (var s in streams)
        {
            s.WriteTo(writer);
        }
    }

    /// <summary>Reads what <see cref="WriteTo"/> wrote.</summary>
    /// <exception cref="StateMachineSnapshotException">Truncated or impossible contents (indexes not ascending, above <paramref name="appliedIndex"/>, a duplicate stream).</exception>
    internal static StreamIndex ReadFrom(ref StateReader reader, ulong appliedIndex)
    {
        var index = new StreamIndex();
        var count = reader.ReadCount(minBytesEach: 7);
        for (var i = 0; i < count; i++)
        {
            reader.ReadRecord(3);
            var name = reader.ReadString(AppendCommand.MaxStreamBytes);
            var stream = new Stream(name);
            if (name.Length == 0 || !index._streams.TryAdd(name, stream))
            {
                throw new StateMachineSnapshotException($"stream '{name}' is empty-named or appears twice in the snapshot");
            }

            var last = reader.ReadVarUInt64();
            var retained = reader.Format == StateFormat.Legacy ? reader.ReadVarUInt64() : (ulong)reader.ReadCount(minBytesEach: 2);
            if (retained > last || retained > (ulong)reader.Remaining / 2)
            {
                throw new StateMachineSnapshotException($"stream '{name}' claims {retained} retained entries of {last}");
            }

            stream.StartAt(last - retained + 1);
            ulong previous = 0;
            for (ulong n = 0; n < retained; n++)
            {
                reader.ReadRecord(2);
                var delta = reader.ReadVarUInt64();
                var size = reader.ReadVarUInt64();
                if (delta == 0 || delta > appliedIndex - previous || size > int.MaxValue)
                {
                    throw new StateMachineSnapshotException($"stream '{name}': entry {n} is not after the previous one or is above the applied index {appliedIndex}");
                }

                previous += delta;
                stream.Append(previous, (int)size);
            }
        }

        return index;
    }

    /// <summary>One stream's entries; a lock per stream keeps the single writer and many readers apart.</summary>
    private sealed class Stream(string name)
    {
        private readonly Lock _gate = new();
        private Entry[][] _chunks = [];
        private int _headChunk; // chunks before it were trimmed (nulled)
        private ulong _baseSequence = 1; // sequence of _chunks[0][0]
        private ulong _first = 1;
        private ulong _last;

        public string Name { get; } = name;

        /// <summary>Sets the first sequence of an empty stream (a restore whose older entries were compacted).</summary>
        public void StartAt(ulong first)
        {
            _baseSequence = _first = first;
            _last = first - 1;
        }

        public ulong Append(ulong index, int bytes)
        {
            lock (_gate)
            {
                if (_last >= _first && index <= At(_last).Index)
                {
                    throw new ArgumentException($"stream '{Name}': index {index} is not above its last index {At(_last).Index}", nameof(index));
                }

                var sequence = _last + 1;
                var offset = sequence - _baseSequence;
                var chunk = (int)(offset >> ChunkShift);
                if (chunk == _chunks.Length)
                {
                    Array.Resize(ref _chunks, Math.Max(4, _chunks.Length * 2));
                }

                if (_chunks[chunk] is null)
                {
                    _chunks[chunk] = new Entry[ChunkSize];
                }

                var cumulative = (_last >= _first ? At(_last).CumulativeBytes : BytesBefore()) + (ulong)bytes;
                _chunks[chunk][(int)(offset & (ChunkSize - 1))] = new Entry(index, cumulative);
                _last = sequence;
                return sequence;
            }
        }

        public ulong SequenceOf(ulong index)
        {
            lock (_gate)
            {
                var (lo, hi) = (_first, _last);
                while (lo <= hi)
                {
                    var mid = lo + ((hi - lo) / 2);
                    var at = At(mid).Index;
                    if (at == index)
                    {
                        return mid;
                    }

                    if (at < index)
                    {
                        lo = mid + 1;
                    }
                    else
                    {
                        hi = mid - 1;
                    }
                }

                return 0;
            }
        }

        public ulong SequenceAtOrAfter(ulong index)
        {
            lock (_gate)
            {
                return index == 0 ? _first : LastAtOrBelow(index - 1) + 1;
            }
        }

        public StreamInfo Info(ulong upTo)
        {
            lock (_gate)
            {
                var last = LastAtOrBelow(upTo);
                if (last < _first)
                {
                    return new StreamInfo(Name, _first, last, 0, 0, 0, 0);
                }

                var bytes = At(last).CumulativeBytes - BytesBefore();
                return new StreamInfo(Name, _first, last, last - _first + 1, bytes, At(_first).Index, At(last).Index);
            }
        }

        public ulong Locate(ulong from, int maxCount, ulong upTo, List<StreamPosition> into)
        {
            lock (_gate)
            {
                for (var s = Math.Max(from, _first); s <= _last && maxCount > 0; s++, maxCount--)
                {
                    var index = At(s).Index;
                    if (index > upTo)
                    {
                        break;
                    }

                    into.Add(new StreamPosition(s, index));
                }

                return _first;
            }
        }

        public void TrimBelow(ulong firstRetainedIndex)
        {
            lock (_gate)
            {
                var before = BytesBefore();
                while (_first <= _last && At(_first).Index < firstRetainedIndex)
                {
                    before = At(_first).CumulativeBytes;
                    _first++;
                }

                _trimmedBytes = before;

                // Free whole chunks below the first retained sequence.
                while (_headChunk < _chunks.Length && _baseSequence + ((ulong)(_headChunk + 1) << ChunkShift) <= _first)
                {
                    _chunks[_headChunk++] = null!;
                }

                if (_headChunk > 0 && _headChunk * 2 >= _chunks.Length)
                {
                    _chunks = _chunks[_headChunk..];
                    _baseSequence += (ulong)_headChunk << ChunkShift;
                    _headChunk = 0;
                }
            }
        }

        public void WriteTo(StateWriter writer)
        {
            lock (_gate)
            {
                writer.BeginRecord(3);
                writer.WriteString(Name);
                writer.WriteVarUInt64(_last);
                var retained = _last >= _first ? _last - _first + 1 : 0;
                if (writer.Format == StateFormat.Legacy)
                {
                    writer.WriteVarUInt64(retained);
                }
                else
                {
                    writer.WriteCount(checked((int)retained));
                }
                ulong previousIndex = 0;
                var previousBytes = BytesBefore();
                for (var s = _first; s <= _last && retained > 0; s++)
                {
                    var e = At(s);
                    writer.BeginRecord(2);
                    writer.WriteVarUInt64(e.Index - previousIndex);
                    writer.WriteVarUInt64(e.CumulativeBytes - previousBytes);
                    previousIndex = e.Index;
                    previousBytes = e.CumulativeBytes;
                }
            }
        }

        private ulong _trimmedBytes;

        /// <summary>Cumulative bytes of the entries before the first retained one.</summary>
        private ulong BytesBefore() => _trimmedBytes;

        private ulong LastAtOrBelow(ulong upTo)
        {
            if (_last < _first || At(_last).Index <= upTo)
            {
                return _last;
            }

            var (lo, hi, best) = (_first, _last, _first - 1);
            while (lo <= hi)
            {
                var mid = lo + ((hi - lo) / 2);
                if (At(mid).Index <= upTo)
                {
                    best = mid;
                    lo = mid + 1;
                }
                else
                {
                    hi = mid - 1;
                }
            }

            return best;
        }

        private ref Entry At(ulong sequence)
        {
            var offset = sequence - _baseSequence;
            return ref _chunks[(int)(offset >> ChunkShift)][(int)(offset & (ChunkSize - 1))];
        }
    }

    private readonly record struct Entry(ulong Index, ulong CumulativeBytes);
}
