using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace WalrusGossip.Simulation.Core;

/// <summary>
/// Records the run's event trace: a SHA-256 over the canonical text of every line (step, virtual time in
/// microseconds, event) and, optionally, the readable lines themselves. Same seed and options give the same hash on
/// any machine: the text is culture-invariant and contains no object identities or hash codes.
/// </summary>
internal sealed class TraceRecorder : IDisposable
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly TextWriter? _writer;
    private byte[] _buffer = new byte[256];

    /// <summary>Creates a recorder.</summary>
    /// <param name="writer">Where readable lines go; null to only hash.</param>
    public TraceRecorder(TextWriter? writer) => _writer = writer;

    /// <summary>Appends one line.</summary>
    /// <param name="step">Event number.</param>
    /// <param name="at">Virtual time.</param>
    /// <param name="text">Event text.</param>
    public void Line(long step, TimeSpan at, string text)
    {
        var line = string.Create(CultureInfo.InvariantCulture, $"{step} {at.Ticks / 10} {text}\n");
        var count = Encoding.UTF8.GetMaxByteCount(line.Length);
        if (count > _buffer.Length)
        {
            _buffer = new byte[Math.Max(count, _buffer.Length * 2)];
        }

        var written = Encoding.UTF8.GetBytes(line, _buffer);
        _hash.AppendData(_buffer, 0, written);
        _writer?.Write(line);
    }

    /// <summary>The hash of everything recorded so far, lowercase hex.</summary>
    /// <returns>64 hex digits.</returns>
    public string HashHex() => Convert.ToHexStringLower(_hash.GetCurrentHash());

    /// <inheritdoc />
    public void Dispose()
    {
        _hash.Dispose();
        _writer?.Flush();
    }
}
