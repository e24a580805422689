using System.CommandLine;

namespace WalrusGossip.Cli;

/// <summary>Parses, reports usage errors with exit code 2, and runs the chosen command.</summary>
internal static class CliRunner
{
    public const int Ok = 0;
    public const int Unhealthy = 1;
    public const int UsageOrIoError = 2;

    public static async Task<int> RunAsync(RootCommand root, string[] args)
    {
        var result = root.Parse(args);
        if (result.Errors.Count > 0)
        {
            foreach (var error in result.Errors)
            {
                await Console.Error.WriteLineAsync("walrusctl: " + error.Message).ConfigureAwait(false);
            }

            await Console.Error.WriteLineAsync("run 'walrusctl --help' for usage").ConfigureAwait(false);
            return UsageOrIoError;
        }

        return await result.InvokeAsync().ConfigureAwait(false);
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
