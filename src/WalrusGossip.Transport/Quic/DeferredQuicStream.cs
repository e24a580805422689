using System.Net.Quic;
using System.Runtime.Versioning;

namespace WalrusGossip.Transport.Quic;

/// <summary>
/// The accepting side's view of a connection's single QUIC stream before the connecting side has opened it.
/// QUIC announces a stream to the peer only with its first bytes, so the listener returns the connection as soon
/// as the TLS handshake completes (as TCP does) and the stream is accepted on the first read or write.
/// </summary>
[SupportedOSPlatform("linux")]
[SupportedOSPlatform("windows")]
[SupportedOSPlatform("osx")]
internal sealed class DeferredQuicStream : Stream
{
    private readonly QuicConnection _connection;
    private readonly CancellationTokenSource _disposed = new();
    private readonly Lazy<Task<QuicStream>> _stream;

    public DeferredQuicStream(QuicConnection connection)
    {
        _connection = connection;
        _stream = new Lazy<Task<QuicStream>>(AcceptAsync, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <summary>Waits for the connecting side to open its stream.</summary>
    /// <param name="cancellationToken">Stops waiting (the stream is still accepted later if it arrives).</param>
    /// <returns>The stream.</returns>
    public Task<QuicStream> GetStreamAsync(CancellationToken cancellationToken) => _stream.Value.WaitAsync(cancellationToken);

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var stream = await GetStreamAsync(cancellationToken).ConfigureAwait(false);
        return await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var stream = await GetStreamAsync(cancellationToken).ConfigureAwait(false);
        await stream.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
    }

    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        var stream = await GetStreamAsync(cancellationToken).ConfigureAwait(false);
        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("Use ReadAsync.");

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("Use WriteAsync.");

    public override void Flush() => throw new NotSupportedException("Use FlushAsync.");

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override async ValueTask DisposeAsync()
    {
        await _disposed.CancelAsync().ConfigureAwait(false);
        if (_stream.IsValueCreated && _stream.Value.IsCompletedSuccessfully)
        {
            await _stream.Value.Result.DisposeAsync().ConfigureAwait(false);
        }

        _disposed.Dispose();
        await base.DisposeAsync().ConfigureAwait(false);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && _stream.IsValueCreated && _stream.Value.IsCompletedSuccessfully)
        {
            _stream.Value.Result.Dispose();
        }

        base.Dispose(disposing);
    }

    private async Task<QuicStream> AcceptAsync() =>
        await _connection.AcceptInboundStreamAsync(_disposed.Token).ConfigureAwait(false);
}
