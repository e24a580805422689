using Spectre.Console;

namespace WalrusGossip.Cli.Cluster;

/// <summary>Where the cluster commands read input and write output: the process console, or buffers in tests.</summary>
internal sealed class CliConsole
{
    public CliConsole(Func<Stream> openStdin, TextWriter output, TextWriter error, IAnsiConsole ansi, Func<string, string?>? environment = null)
    {
        OpenStdin = openStdin;
        Out = output;
        Error = error;
        Ansi = ansi;
        Environment = environment ?? global::System.Environment.GetEnvironmentVariable;
    }

    /// <summary>The process's standard streams and environment; tables without colour codes, 160 columns wide, when output is redirected.</summary>
    public static CliConsole System { get; } = new(Console.OpenStandardInput, Console.Out, Console.Error, Console.IsOutputRedirected ? Plain(Console.Out) : AnsiConsole.Console);

    /// <summary>Reads an environment variable (<c>WALRUS_ENDPOINTS</c>, <c>WALRUS_CONTEXT</c>, <c>WALRUS_TOKEN</c>); tests pass a dictionary.</summary>
    public Func<string, string?> Environment { get; }

    /// <summary>Opens standard input as raw bytes.</summary>
    public Func<Stream> OpenStdin { get; }

    /// <summary>Standard output, for results.</summary>
    public TextWriter Out { get; }

    /// <summary>Standard error, for diagnostics.</summary>
    public TextWriter Error { get; }

    /// <summary>Tables go here (Spectre.Console).</summary>
    public IAnsiConsole Ansi { get; }

    /// <summary>A console over buffers: no colours, no terminal features, fixed width; an empty environment unless one is given.</summary>
    public static CliConsole ForBuffers(Stream stdin, TextWriter output, TextWriter error, IReadOnlyDictionary<string, string>? environment = null) =>
        new(() => stdin, output, error, Plain(output), name => environment is not null && environment.TryGetValue(name, out var value) ? value : null);

    private static IAnsiConsole Plain(TextWriter output)
    {
        var ansi = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(output),
        });
        ansi.Profile.Width = 160;
        return ansi;
    }
}
