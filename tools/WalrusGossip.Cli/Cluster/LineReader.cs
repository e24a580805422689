namespace WalrusGossip.Cli.Cluster;

/// <summary>
/// Splits a byte stream into lines without decoding them, so entries keep their exact bytes. A line ends at
/// <c>\n</c>; a <c>\r</c> right before it is part of the terminator. A last line without terminator counts; nothing
/// after the final terminator does.
/// </summary>
internal sealed class LineReader
{
    private readonly Stream _stream;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private readonly MemoryStream _line = new();
    private int _start;
    private int _end;
    private bool _eof;

    public LineReader(Stream stream) => _stream = stream;

    /// <summary>The next line's bytes, or null at end of input.</summary>
    public async ValueTask<byte[]?> ReadLineAsync(CancellationToken cancellationToken)
    {
        _line.SetLength(0);
        while (true)
        {
            if (_start == _end)
            {
                if (_eof)
                {
                    return _line.Length > 0 ? Take() : null;
                }

                _start = 0;
                _end = await _stream.ReadAsync(_buffer, cancellationToken).ConfigureAwait(false);
                if (_end == 0)
                {
                    _eof = true;
                }

                continue;
            }

            var newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
            if (newline < 0)
            {
                _line.Write(_buffer, _start, _end - _start);
                _start = _end;
                continue;
            }

            _line.Write(_buffer, _start, newline - _start);
            _start = newline + 1;
            if (_line.Length > 0 && _line.GetBuffer()[_line.Length - 1] == (byte)'\r')
            {
                _line.SetLength(_line.Length - 1);
            }

            return Take();
        }
    }

    private byte[] Take() => _line.ToArray();
}
