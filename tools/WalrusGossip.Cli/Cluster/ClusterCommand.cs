using WalrusGossip.Client;

namespace WalrusGossip.Cli.Cluster;

/// <summary>Runs a cluster command body with a connected client and maps failures to exit codes.</summary>
internal static class ClusterCommand
{
    /// <summary>
    /// Exit 0 on success; 1 when the cluster refused or could not serve the operation (<see cref="WalrusException"/>);
    /// 2 for usage errors (bad options, unreadable context, CA or input files); 3 when the <c>--timeout</c> deadline
    /// expired first.
    /// </summary>
    public static async Task<int> RunAsync(
        CliConsole console,
        Func<WalrusClientOptions> resolveOptions,
        Func<WalrusClient, CancellationToken, Task<int>> body,
        CancellationToken cancellationToken)
    {
        var deadline = CommandDeadline.Current;
        try
        {
            var options = resolveOptions();
            await using var client = new WalrusClient(options);
            var exitCode = await body(client, cancellationToken).ConfigureAwait(false);
            if (exitCode != CliRunner.Ok && deadline is { Expired: true })
            {
                await console.Error.WriteLineAsync($"walrusctl: {deadline.Message}").ConfigureAwait(false);
                return CliRunner.TimedOut;
            }

            return exitCode;
        }
        catch (Exception e) when (deadline is { Expired: true } && e is WalrusException or OperationCanceledException)
        {
            await console.Error.WriteLineAsync($"walrusctl: {deadline.Message}").ConfigureAwait(false);
            return CliRunner.TimedOut;
        }
        catch (WalrusException e)
        {
            await console.Error.WriteLineAsync($"walrusctl: {e.Message}").ConfigureAwait(false);
            return CliRunner.Unhealthy;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await console.Error.WriteLineAsync("walrusctl: cancelled").ConfigureAwait(false);
            return CliRunner.Unhealthy;
        }
        catch (Exception e) when (e is ArgumentException or IOException or UnauthorizedAccessException or InvalidDataException or PlatformNotSupportedException)
        {
            await console.Error.WriteLineAsync($"walrusctl: {e.Message}").ConfigureAwait(false);
            return CliRunner.UsageOrIoError;
        }
    }
}
