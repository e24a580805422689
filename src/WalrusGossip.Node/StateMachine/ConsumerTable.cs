using System.Collections.Immutable;

namespace WalrusGossip.Node;

/// <summary>What a <see cref="ConsumerChange"/> does.</summary>
public enum ConsumerChangeKind
{
    /// <summary>Creates a durable consumer (idempotent: an existing one keeps its position and takes the new ack timeout).</summary>
    Create = 1,

    /// <summary>Deletes a consumer and its position.</summary>
    Delete = 2,

    /// <summary>Moves the acknowledged position (the ack floor) forwards; never backwards.</summary>
    Ack = 3,
}

/// <summary>
/// One change of a durable consumer as stored in a <see cref="Raft.EntryType.Consumer"/> log entry (little-endian):
/// <c>u32 (version 1 | kind &lt;&lt; 8)</c>, stream and consumer name (<c>u32 length + UTF-8</c> each), then <c>u64
/// value</c>: the ack timeout in milliseconds (Create), the new ack floor (Ack), 0 (Delete); Create adds <c>u64</c> the
/// sequence delivery starts after.
/// </summary>
/// <param name="Kind">What to do.</param>
/// <param name="Stream">Stream name (1-255 UTF-8 bytes).</param>
/// <param name="Name">Consumer name (1-64 of [A-Za-z0-9-_.]).</param>
/// <param name="Value">Ack timeout in ms (Create, 100 ms to 1 day), or the ack floor (Ack).</param>
/// <param name="StartAfter">Create: the floor a new consumer starts at (0: from the stream's first entry).</param>
public sealed record ConsumerChange(ConsumerChangeKind Kind, string Stream, string Name, ulong Value = 0, ulong StartAfter = 0)
{
    /// <summary>Longest consumer name.</summary>
    public const int MaxNameLength = 64;

    /// <summary>Default ack timeout: an entry delivered and not acknowledged within it goes to another instance.</summary>
    public static readonly TimeSpan DefaultAckTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Why the change is invalid, or null.</summary>
    /// <returns>A message for an InvalidArgument answer.</returns>
    public string? Validate()
    {
        if (string.IsNullOrEmpty(Stream) || System.Text.Encoding.UTF8.GetByteCount(Stream) > AppendCommand.MaxStreamBytes)
        {
            return "a consumer's stream name must be 1 to 255 UTF-8 bytes";
        }

        if (string.IsNullOrEmpty(Name) || Name.Length > MaxNameLength || !Name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
        {
            return "a consumer name is 1 to 64 of [A-Za-z0-9-_.]";
        }

        return Kind switch
        {
            ConsumerChangeKind.Create when Value is < 100 or > 86_400_000 => "the ack timeout must be 100 ms to 1 day",
            ConsumerChangeKind.Create or ConsumerChangeKind.Delete or ConsumerChangeKind.Ack => null,
            _ => $"unknown consumer change {(int)Kind}",
        };
    }

    /// <summary>Encodes the change for its log entry.</summary>
    /// <returns>The payload.</returns>
    public byte[] Encode()
    {
        var w = new StateWriter();
        w.WriteUInt32(1 | ((uint)Kind << 8));
        w.WriteString(Stream);
        w.WriteString(Name);
        w.WriteUInt64(Value);
        if (Kind == ConsumerChangeKind.Create)
        {
            w.WriteUInt64(StartAfter);
        }

        return w.Written.ToArray();
    }

    /// <summary>Decodes a payload made by <see cref="Encode"/>; never throws.</summary>
    /// <param name="payload">A Consumer entry's payload.</param>
    /// <param name="change">The change, or null.</param>
    /// <returns>False when the payload is not a valid change (every replica ignores it alike).</returns>
    public static bool TryDecode(ReadOnlySpan<byte> payload, out ConsumerChange? change)
    {
        change = null;
        try
        {
            var r = new StateReader(payload);
            var head = r.ReadUInt32();
            if ((head & 0xFF) != 1 || head >> 16 != 0)
            {
                return false;
            }

            var kind = (ConsumerChangeKind)(head >> 8);
            var stream = r.ReadString(AppendCommand.MaxStreamBytes);
            var name = r.ReadString(MaxNameLength);
            var value = r.ReadUInt64();
            var startAfter = kind == ConsumerChangeKind.Create ? r.ReadUInt64() : 0;
            var decoded = new ConsumerChange(kind, stream, name, value, startAfter);
            if (r.Remaining != 0 || decoded.Validate() is not null)
            {
                return false;
            }

            change = decoded;
            return true;
        }
        catch (StateMachineSnapshotException)
        {
            return false;
        }
    }
}

/// <summary>A durable consumer as the replicated state holds it.</summary>
/// <param name="Stream">Its stream.</param>
/// <param name="Name">Its name.</param>
/// <param name="AckFloor">Every sequence at or below it is acknowledged; delivery continues after it.</param>
/// <param name="AckTimeout">How long a delivered entry may stay unacknowledged before it is delivered again.</param>
/// <param name="CreatedIndex">Log index of the Create entry.</param>
public sealed record ConsumerState(string Stream, string Name, ulong AckFloor, TimeSpan AckTimeout, ulong CreatedIndex);

/// <summary>
/// The durable consumers of the replicated state (issue 19): per (stream, name) the acknowledged position, changed only
/// by <see cref="Raft.EntryType.Consumer"/> entries, so every replica holds the same positions and they survive restarts
/// and leader changes. Immutable: every change makes a new table (consumer changes are rare next to appends), so any
/// thread may read <see cref="LogStateMachine.Consumers"/>.
/// </summary>
public sealed class ConsumerTable
{
    private readonly ImmutableSortedDictionary<(string Stream, string Name), ConsumerState> _consumers;

    private ConsumerTable(ImmutableSortedDictionary<(string, string), ConsumerState> consumers) => _consumers = consumers;

    /// <summary>The table without consumers.</summary>
    public static ConsumerTable Empty { get; } = new(ImmutableSortedDictionary.Create<(string, string), ConsumerState>(KeyComparer.Instance));

    /// <summary>Consumers, by stream then name.</summary>
    public IEnumerable<ConsumerState> All => _consumers.Values;

    /// <summary>Number of consumers.</summary>
    public int Count => _consumers.Count;

    /// <summary>The consumer, or null.</summary>
    /// <param name="stream">Stream name.</param>
    /// <param name="name">Consumer name.</param>
    /// <returns>Its state.</returns>
    public ConsumerState? Find(string stream, string name) => _consumers.TryGetValue((stream, name), out var c) ? c : null;

    /// <summary>The table after <paramref name="change"/>, applied at log index <paramref name="index"/>.</summary>
    /// <param name="change">A valid change.</param>
    /// <param name="index">Its entry's index.</param>
    /// <returns>The new table (this one when nothing changed: an Ack for an unknown consumer, or one not above the floor).</returns>
    public ConsumerTable With(ConsumerChange change, ulong index)
    {
        ArgumentNullException.ThrowIfNull(change);
        var key = (change.Stream, change.Name);
        var existing = Find(change.Stream, change.Name);
        return change.Kind switch
        {
            ConsumerChangeKind.Create => new(_consumers.SetItem(key, existing is null
                ? new ConsumerState(change.Stream, change.Name, change.StartAfter, TimeSpan.FromMilliseconds(change.Value), index)
                : existing with { AckTimeout = TimeSpan.FromMilliseconds(change.Value) })),
            ConsumerChangeKind.Delete when existing is not null => new(_consumers.Remove(key)),
            ConsumerChangeKind.Ack when existing is not null && change.Value > existing.AckFloor =>
                new(_consumers.SetItem(key, existing with { AckFloor = change.Value })),
            _ => this,
        };
    }

    /// <summary>A digest of every consumer's stream, name and ack floor, for comparing replicas.</summary>
    /// <returns>Text, empty without consumers.</returns>
    public string Describe() => string.Join(' ', _consumers.Values.Select(c => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{c.Stream}/{c.Name}:{c.AckFloor}")));

    /// <summary>Encodes the table: a count, then per consumer a record of stream, name, floor, ack timeout (ms) and created index.</summary>
    internal void WriteTo(StateWriter writer)
    {
        writer.WriteCount(_consumers.Count);
        foreach (var c in _consumers.Values)
        {
            writer.BeginRecord(5);
            writer.WriteString(c.Stream);
            writer.WriteString(c.Name);
            writer.WriteUInt64(c.AckFloor);
            writer.WriteUInt64((ulong)c.AckTimeout.TotalMilliseconds);
            writer.WriteUInt64(c.CreatedIndex);
        }
    }

    /// <summary>Reads what <see cref="WriteTo"/> wrote.</summary>
    /// <exception cref="StateMachineSnapshotException">Truncated, or a consumer that does not validate or appears twice.</exception>
    internal static ConsumerTable ReadFrom(ref StateReader reader)
    {
        var count = reader.ReadCount(minBytesEach: 32);
        var builder = ImmutableSortedDictionary.CreateBuilder<(string, string), ConsumerState>(KeyComparer.Instance);
        for (var i = 0; i < count; i++)
        {
            reader.ReadRecord(5);
            var stream = reader.ReadString(AppendCommand.MaxStreamBytes);
            var name = reader.ReadString(ConsumerChange.MaxNameLength);
            var floor = reader.ReadUInt64();
            var timeout = reader.ReadUInt64();
            var created = reader.ReadUInt64();
            if (new ConsumerChange(ConsumerChangeKind.Create, stream, name, timeout).Validate() is { } invalid || !builder.TryAdd((stream, name), new ConsumerState(stream, name, floor, TimeSpan.FromMilliseconds(timeout), created)))
            {
                throw new StateMachineSnapshotException($"consumer '{stream}/{name}' in the snapshot is invalid or appears twice");
            }
        }

        return new(builder.ToImmutable());
    }

    private sealed class KeyComparer : IComparer<(string Stream, string Name)>
    {
        public static readonly KeyComparer Instance = new();

        public int Compare((string Stream, string Name) x, (string Stream, string Name) y)
        {
            var c = string.CompareOrdinal(x.Stream, y.Stream);
            return c != 0 ? c : string.CompareOrdinal(x.Name, y.Name);
        }
    }
}
