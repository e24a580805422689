using System.CommandLine;

namespace WalrusGossip.Cli;

/// <summary>Parses, reports usage errors with exit code 2, and runs the chosen command.</summary>
internal static class CliRunner
{
    public const int Ok = 0;
    public const int Unhealthy = 1;
    public const int UsageOrIoError = 2;

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
        return await result.InvokeAsync(configuration, cancellationToken).ConfigureAwait(false);
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
