using System.Text;

namespace WalrusGossip.Membership;

/// <summary>
/// Bounded pool of strings the node already holds (member names, addresses, metadata keys), so
/// decoding a datagram about known members allocates no new strings. Only the node adds entries
/// (for members it accepted), so garbage from the network cannot fill it; past
/// <see cref="Capacity"/> it simply stops growing.
/// </summary>
internal sealed class StringPool
{
    public const int Capacity = 16_384;

    private readonly HashSet<string> _strings = new(StringComparer.Ordinal);
    private readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    public StringPool() => _lookup = _strings.GetAlternateLookup<ReadOnlySpan<char>>();

    public void Add(string value)
    {
        if (_strings.Count < Capacity)
        {
            _strings.Add(value);
        }
    }

    /// <summary>Returns the pooled string equal to <paramref name="utf8"/> (valid UTF-8, ≤ 1 024 bytes), or a new one.</summary>
    public string Get(ReadOnlySpan<byte> utf8, bool addIfMissing)
    {
        if (utf8.Length == 0)
        {
            return "";
        }

        Span<char> chars = stackalloc char[utf8.Length];
        var count = Encoding.UTF8.GetChars(utf8, chars);
        if (_lookup.TryGetValue(chars[..count], out var pooled))
        {
            return pooled;
        }

        var value = new string(chars[..count]);
        if (addIfMissing)
        {
            Add(value);
        }

        return value;
    }
}
