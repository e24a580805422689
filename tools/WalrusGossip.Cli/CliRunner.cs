using System.CommandLine;
using WalrusGossip.Cli.Cluster;

namespace WalrusGossip.Cli;

/// <summary>Parses, reports usage errors with exit code 2, and runs the chosen command.</summary>
internal static class CliRunner
{
    public const int Ok = 0;
    public const int Unhealthy = 1;
    public const int UsageOrIoError = 2;

    /// <summary>The <c>--timeout</c> deadline expired before the command finished.</summary>
    public const int TimedOut = 3;

    public static Task<int> RunAsync(RootCommand root, string[] args) => RunAsync(root, args, Console.Out, Console.Error, CancellationToken.None);

    /// <summary>Parses and runs with help and parse errors written to the given writers (tests pass buffers).</summary>
    public static async Task<int> RunAsync(RootCommand root, string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var result = root.Parse(args);
        if (result.Errors.Count > 0)
        {
            foreach (var parseError in result.Errors)
            {
                await error.WriteLineAsync("walrusctl: " + parseError.Message).ConfigureAwait(false);
            }

            await error.WriteLineAsync("run 'walrusctl --help' for usage").ConfigureAwait(false);
            return UsageOrIoError;
        }

        var configuration = new InvocationConfiguration { Output = output, Error = error };
        TimeSpan? timeout;
        try
        {
            timeout = result.GetValue<string?>(ConnectionOptions.TimeoutName) is { } text ? CommandDeadline.Parse(text) : null;
        }
        catch (ArgumentException e)
        {
            await error.WriteLineAsync("walrusctl: " + e.Message).ConfigureAwait(false);
            return UsageOrIoError;
        }

        if (timeout is not { } limit)
        {
            return await result.InvokeAsync(configuration, cancellationToken).ConfigureAwait(false);
        }

        using var deadline = new CancellationTokenSource(limit);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        var previous = CommandDeadline.Current;
        var current = new CommandDeadline(limit, deadline.Token);
        CommandDeadline.Current = current;
        try
        {
            var exitCode = await result.InvokeAsync(configuration, linked.Token).ConfigureAwait(false);
            if (exitCode is not Ok and not TimedOut && current.Expired)
            {
                await error.WriteLineAsync("walrusctl: " + current.Message).ConfigureAwait(false);
                return TimedOut;
            }

            return exitCode;
        }
        catch (OperationCanceledException) when (current.Expired)
        {
            await error.WriteLineAsync("walrusctl: " + current.Message).ConfigureAwait(false);
            return TimedOut;
        }
        finally
        {
            CommandDeadline.Current = previous;
        }
    }

    /// <summary>Runs a command body, mapping I/O and storage errors to a message and exit code 2.</summary>
    public static async Task<int> Guard(Func<Task<int>> body)
    {
        try
        {
            return await body().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or Storage.StorageException or ArgumentException)
        {
            await Console.Error.WriteLineAsync($"walrusctl: {e.Message}").ConfigureAwait(false);
            return UsageOrIoError;
        }
    }
}
