using WalrusGossip.Transport;

namespace WalrusGossip.Agent.Network;

/// <summary>Accepts connections until cancelled or the listener closes, serving each on its own task.</summary>
internal static class AcceptLoop
{
    public static async Task RunAsync(IFrameListener listener, Func<IFrameConnection, CancellationToken, Task> serve, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            IFrameConnection connection;
            try
            {
                connection = await listener.AcceptAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }

            _ = Task.Run(() => serve(connection, cancellationToken), cancellationToken);
        }
    }
}
