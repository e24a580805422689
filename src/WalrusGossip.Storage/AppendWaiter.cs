using System.Collections.Concurrent;
using System.Threading.Tasks.Sources;

namespace WalrusGossip.Storage;

/// <summary>
/// A pooled completion for one append: the writer thread completes it with the entry's index after the
/// group-commit batch holding it is written (and, under <c>always</c>, fdatasynced). Reused after the awaiter
/// reads its result, so steady-state appends allocate nothing for completion.
/// </summary>
internal sealed class AppendWaiter : IValueTaskSource<ulong>
{
    private static readonly ConcurrentQueue<AppendWaiter> Pool = new();
    private ManualResetValueTaskSourceCore<ulong> _core = new() { RunContinuationsAsynchronously = true };

    public static AppendWaiter Rent() => Pool.TryDequeue(out var waiter) ? waiter : new AppendWaiter();

    public ValueTask<ulong> Task => new(this, _core.Version);

    public void Complete(ulong index) => _core.SetResult(index);

    public void Fail(Exception error) => _core.SetException(error);

    public ulong GetResult(short token)
    {
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            _core.Reset();
            Pool.Enqueue(this);
        }
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
