using Microsoft.Extensions.Logging.Abstractions;
using WalrusGossip.Agent.Hosting;
using WalrusGossip.Node;
using WalrusGossip.Raft;
using WalrusGossip.Storage;
using WalrusGossip.Storage.IO;

namespace WalrusGossip.Agent.Tests;

/// <summary>
/// The agent's node supervisor on a real single-node <see cref="WalrusNode"/> whose disk starts failing writes
/// (ENOSPC): the node is released and reopened in-process with backoff, acknowledged entries survive, and a failure
/// that is not storage stops the agent.
/// </summary>
public sealed class NodeSupervisorTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "walrus-supervisor-" + Guid.NewGuid().ToString("N"));
    private readonly FileSystemDevice _disk = FileSystemDevice.Create(IoEngine.Psync);
    private readonly FailingDevice _device;
    private readonly List<Exception> _fatal = [];
    private readonly NodeSupervisor _supervisor;

    public NodeSupervisorTests()
    {
        _device = new FailingDevice(_disk);
        var clock = new SystemClock();
        var options = new NodeOptions { NodeId = 1, GossipAddress = "node1", DataDirectory = _dir, InitialVoters = [1] };
        _supervisor = new NodeSupervisor(
            () =>
            {
                var node = new WalrusNode(options, _device, new NoNetwork(), clock, new Random(1));
                return (node, new NodeLoop(node, clock));
            },
            _ => { },
            e => { lock (_fatal) { _fatal.Add(e); } },
            NullLogger.Instance)
        {
            FirstBackoff = TimeSpan.FromMilliseconds(20),
            MaxBackoff = TimeSpan.FromMilliseconds(200),
        };
    }

    [Fact]
    public async Task A_disk_that_fails_writes_takes_the_node_down_and_it_is_reopened_with_its_acknowledged_entries_once_writes_succeed()
    {
        await _supervisor.StartAsync();
        var acknowledged = await AppendAsync([1, 2, 3]);

        _device.Failing = true;
        _supervisor.Current!.Post(n => n.Append(9, 2, AppendCommand.Encode(9, 2, null, [4]), _ => { }));
        await EventuallyAsync(() => _supervisor.StorageFailures >= 1 && _supervisor.ReopenAttempts >= 3, "reopen attempts while the disk fails");

        _device.Failing = false;
        await EventuallyAsync(() => _supervisor.Current is not null && _supervisor.StorageFailure is null, "the node reopened");
        await EventuallyAsync(async () => await _supervisor.Current!.InvokeAsync(n => n.Status.Role == RaftRole.Leader) ? this : null, "a leader again");
        Assert.True(await _supervisor.Current!.InvokeAsync(n => n.Status.AppliedIndex) >= acknowledged.Index);
        var entry = await _supervisor.Current!.InvokeAsync(n => n.LocalLog.Read(acknowledged.Index));
        Assert.Equal(AppendCommand.Encode(9, 1, null, [1, 2, 3]), entry.Payload.ToArray());
        await AppendAsync([5], sequence: 3);
        Assert.Empty(_fatal);
    }

    [Fact]
    public async Task A_failure_that_is_not_storage_is_fatal_and_nothing_is_reopened()
    {
        await _supervisor.StartAsync();
        _supervisor.Current!.Post(_ => throw new RaftInvariantViolationException("injected"));
        await EventuallyAsync(() => { lock (_fatal) { return _fatal.Count == 1; } }, "the fatal callback");
        Assert.Null(_supervisor.Current);
        Assert.Equal(0, _supervisor.ReopenAttempts);
        Assert.False(NodeSupervisor.IsStorageFailure(_fatal[0]));
        Assert.True(NodeSupervisor.IsStorageFailure(new AggregateException(new StorageFailedException("x", new IOException("No space left on device")))));
    }

    public void Dispose()
    {
        _supervisor.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _disk.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private async Task<AppendResult> AppendAsync(byte[] payload, ulong sequence = 1)
    {
        await EventuallyAsync(async () => await _supervisor.Current!.InvokeAsync(n => n.Status.Role == RaftRole.Leader) ? this : null, "a leader");
        var done = new TaskCompletionSource<AppendResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        _supervisor.Current!.Post(n => n.Append(9, sequence, AppendCommand.Encode(9, sequence, null, payload), r => done.TrySetResult(r)));
        var result = await done.Task.WaitAsync(Deadline);
        Assert.Equal(RequestStatus.Ok, result.Status);
        return result;
    }

    private static Task EventuallyAsync(Func<bool> condition, string what) =>
        EventuallyAsync(() => Task.FromResult(condition() ? (object?)true : null), what);

    private static async Task<T> EventuallyAsync<T>(Func<Task<T?>> probe, string what)
        where T : class
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (true)
        {
            try
            {
                if (await probe() is { } value)
                {
                    return value;
                }
            }
            catch (Exception e) when (e is OperationCanceledException or NullReferenceException)
            {
                // the loop went away between the check and the call: look again
            }

            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            await Task.Delay(10);
        }
    }

    private sealed class NoNetwork : INodeTransport
    {
        public void SendRaft(RaftMessage message)
        {
        }

        public void SendGossip(string address, bool reliable, byte[] payload)
        {
        }
    }

    /// <summary>The real file system, except that while <see cref="Failing"/> every file write and sync fails as on a full disk.</summary>
    private sealed class FailingDevice(IStorageDevice inner) : IStorageDevice
    {
        public volatile bool Failing;

        public string EngineName => inner.EngineName;

        public IDeviceFile Open(string path, DeviceOpenMode mode) => new File(this, inner.Open(path, mode));

        public bool FileExists(string path) => inner.FileExists(path);

        public IReadOnlyList<string> ListFiles(string directory) => inner.ListFiles(directory);

        public void CreateDirectory(string path) => inner.CreateDirectory(path);

        public void DeleteFile(string path) => inner.DeleteFile(path);

        public void Rename(string source, string destination) => inner.Rename(source, destination);

        public void SyncDirectory(string path) => inner.SyncDirectory(path);

        public long AvailableBytes(string path) => inner.AvailableBytes(path);

        public DateTime LastWriteTimeUtc(string path) => inner.LastWriteTimeUtc(path);

        public IDisposable Lock(string path) => inner.Lock(path);

        private void ThrowIfFailing()
        {
            if (Failing)
            {
                throw new IOException("No space left on device");
            }
        }

        private sealed class File(FailingDevice device, IDeviceFile inner) : IDeviceFile
        {
            public string Path => inner.Path;

            public long Length => inner.Length;

            public int Read(long offset, Span<byte> buffer) => inner.Read(offset, buffer);

            public void Write(long offset, ReadOnlySpan<byte> data)
            {
                device.ThrowIfFailing();
                inner.Write(offset, data);
            }

            public void WriteAndSync(long offset, ReadOnlySpan<byte> data)
            {
                device.ThrowIfFailing();
                inner.WriteAndSync(offset, data);
            }

            public void Sync()
            {
                device.ThrowIfFailing();
                inner.Sync();
            }

            public void SyncAll()
            {
                device.ThrowIfFailing();
                inner.SyncAll();
            }

            public void SetLength(long length) => inner.SetLength(length);

            public void Allocate(long length, bool writeZeros = false) => inner.Allocate(length, writeZeros);

            public void Dispose() => inner.Dispose();
        }
    }
}
