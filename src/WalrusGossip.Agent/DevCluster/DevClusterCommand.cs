using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace WalrusGossip.Agent.DevCluster;

/// <summary>
/// <c>walrus-agent dev-cluster [--nodes 3] [--data-root DIR] [-- AGENT-ARGS...]</c>: a local cluster on loopback for development; arguments after <c>--</c> go to every agent (configuration keys such as <c>--Storage:Retention:MaxBytes=268435456</c>).
/// Creates a dev CA and node certificates under <c>DIR/certs</c> on first run, writes <c>DIR/walrusctl.json</c>,
/// starts N agents as child processes (client 127.0.0.1:7101.., peer 7201.., gossip 7301.., http 7401..), waits until
/// they have a leader, prints endpoints and example commands, and stops the children on Ctrl+C or SIGTERM.
/// </summary>
public static partial class DevClusterCommand
{
    /// <summary>Runs the command.</summary>
    /// <param name="args">Arguments after <c>dev-cluster</c>.</param>
    /// <returns>0 after a clean stop, 1 when the cluster did not become ready, 2 for a usage error.</returns>
    public static async Task<int> RunAsync(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var nodes = 3;
        var root = ".walrus-dev";
        string[] extra = [];
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--":
                    extra = args[(i + 1)..]; // passed to every agent as is, e.g. --Storage:Retention:MaxBytes=268435456
                    i = args.Length;
                    break;
                case "--nodes" when i + 1 < args.Length && int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out nodes) && nodes is >= 1 and <= 9:
                    i++;
                    break;
                case "--data-root" when i + 1 < args.Length:
                    root = args[++i];
                    break;
                default:
                    await Console.Error.WriteLineAsync("usage: walrus-agent dev-cluster [--nodes 1..9] [--data-root DIR] [-- AGENT-ARGS...]").ConfigureAwait(false);
                    return 2;
            }
        }

        root = Path.GetFullPath(root);
        var certs = Path.Combine(root, "certs");
        EnsureCertificates(certs, nodes);
        WriteContext(root, nodes);

        var children = new List<Process>();
        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx =>
        {
            ctx.Cancel = true;
            stop.Cancel();
        });
        try
        {
            var join = string.Join(',', Enumerable.Range(1, nodes).Select(i => $"127.0.0.1:{7300 + i}"));
            for (var i = 1; i <= nodes; i++)
            {
                children.Add(StartAgent(root, certs, i, nodes, join, extra));
            }

            Console.WriteLine($"starting {nodes} agents under {root} (logs: {root}/node-N/agent.out)");
            var ready = await WaitForLeaderAsync(nodes, children, TimeSpan.FromSeconds(60), stop.Token).ConfigureAwait(false);
            if (ready is null)
            {
                await Console.Error.WriteLineAsync("dev-cluster: the agents did not elect a leader (see the messages above and DIR/node-N/agent.out)").ConfigureAwait(false);
                return 1;
            }

            PrintWelcome(root, nodes, ready.Value);
            await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            return 0;
        }
        finally
        {
            Console.WriteLine("stopping agents...");
            foreach (var child in children)
            {
                if (!child.HasExited)
                {
                    _ = Kill(child.Id, 15);
                }
            }

            foreach (var child in children)
            {
                if (!child.WaitForExit(TimeSpan.FromSeconds(15)))
                {
                    child.Kill(entireProcessTree: true);
                }

                child.Dispose();
            }
        }
    }

    private static void EnsureCertificates(string certs, int nodes)
    {
        Directory.CreateDirectory(certs);
        var caPem = Path.Combine(certs, "ca.pem");
        var caKey = Path.Combine(certs, "ca.key");
        var ca = File.Exists(caPem) && File.Exists(caKey)
            ? DevCertificates.LoadPem(caPem, caKey)
            : DevCertificates.CreateCa("WalrusGossip dev CA");
        if (!File.Exists(caPem))
        {
            DevCertificates.ExportPem(ca, caPem, caKey);
        }

        for (var i = 1; i <= nodes; i++)
        {
            var pem = Path.Combine(certs, $"node-{i}.pem");
            if (!File.Exists(pem))
            {
                var cert = DevCertificates.CreateNodeCertificate(ca, $"node-{i}", ["localhost"], [IPAddress.Loopback], nodeId: (ulong)i);
                DevCertificates.ExportPem(cert, pem, Path.Combine(certs, $"node-{i}.key"));
            }
        }

        // The administrator's client certificate (identity "admin", which Security:AdminIdentities names by default):
        // the agents require client authentication, and walrusctl presents this one through walrusctl.json.
        var adminPem = Path.Combine(certs, "admin.pem");
        if (!File.Exists(adminPem))
        {
            using var admin = DevCertificates.CreateClientCertificate(ca, "admin");
            DevCertificates.ExportPem(admin, adminPem, Path.Combine(certs, "admin.key"));
        }
    }

    private static void WriteContext(string root, int nodes)
    {
        var context = new
        {
            endpoints = Enumerable.Range(1, nodes).Select(i => $"127.0.0.1:{7100 + i}").ToArray(),
            ca = "certs/ca.pem",
            clientCert = "certs/admin.pem",
            clientKey = "certs/admin.key",
        };
        File.WriteAllText(Path.Combine(root, "walrusctl.json"), JsonSerializer.Serialize(context, new JsonSerializerOptions { WriteIndented = true }));
    }

    private static Process StartAgent(string root, string certs, int i, int nodes, string join, string[] extra)
    {
        var dataDir = Path.Combine(root, $"node-{i}");
        Directory.CreateDirectory(dataDir);
        var self = Environment.ProcessPath!;
        var start = new ProcessStartInfo(self) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "walrus-agent.dll")); // run as `dotnet walrus-agent.dll`, not a published executable
        }

        foreach (var arg in new[]
                 {
                     "--node-id", i.ToString(CultureInfo.InvariantCulture),
                     "--data-dir", dataDir,
                     "--client-listen", $"127.0.0.1:{7100 + i}",
                     "--peer-listen", $"127.0.0.1:{7200 + i}",
                     "--gossip-listen", $"127.0.0.1:{7300 + i}",
                     "--http-listen", $"127.0.0.1:{7400 + i}",
                     "--join", join,
                     "--bootstrap-expect", nodes.ToString(CultureInfo.InvariantCulture),
                     "--ca", Path.Combine(certs, "ca.pem"),
                     "--cert", Path.Combine(certs, $"node-{i}.pem"),
                     "--key", Path.Combine(certs, $"node-{i}.key"),
                 }.Concat(extra))
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start)!;
        var output = new StreamWriter(Path.Combine(dataDir, "agent.out"), append: true) { AutoFlush = true };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                Append(output, e.Data);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                Append(output, e.Data);
                Console.Error.WriteLine($"[node-{i}] {e.Data}");
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>Appends an agent's output line to its <c>agent.out</c>; a full or failing disk drops the line instead of ending dev-cluster.</summary>
    private static void Append(StreamWriter output, string line)
    {
        lock (output)
        {
            try
            {
                output.WriteLine(line);
            }
            catch (IOException)
            {
                // The data directory's disk is full (the agents refuse appends and recover by themselves): lose the log line.
            }
        }
    }

    private static async Task<ulong?> WaitForLeaderAsync(int nodes, List<Process> children, TimeSpan limit, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < limit && !cancellationToken.IsCancellationRequested)
        {
            if (children.TrueForAll(c => c.HasExited))
            {
                return null;
            }

            for (var i = 1; i <= nodes; i++)
            {
                try
                {
                    using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{7400 + i}/v1/status"), cancellationToken).ConfigureAwait(false);
                    if (response.IsSuccessStatusCode)
                    {
                        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false));
                        var leader = doc.RootElement.GetProperty("leaderId").GetUInt64();
                        if (leader != 0)
                        {
                            return leader;
                        }
                    }
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or KeyNotFoundException)
                {
                }
            }

            try
            {
                await Task.Delay(250, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return null;
            }
        }

        return null;
    }

    private static void PrintWelcome(string root, int nodes, ulong leader)
    {
        Console.WriteLine();
        Console.WriteLine($"WalrusGossip dev cluster is up: {nodes} agents, leader is node {leader}.");
        for (var i = 1; i <= nodes; i++)
        {
            Console.WriteLine($"  node {i}: client 127.0.0.1:{7100 + i}  peer 127.0.0.1:{7200 + i}  gossip 127.0.0.1:{7300 + i}  http http://127.0.0.1:{7400 + i}/v1/status");
        }

        Console.WriteLine();
        var context = Path.Combine(root, "walrusctl.json");
        if (Path.GetFileName(root) == ".walrus-dev")
        {
            Console.WriteLine($"walrusctl reads {context} automatically when run from {Path.GetDirectoryName(root)}. Try, from there:");
        }
        else
        {
            // walrusctl looks for ./.walrus-dev/walrusctl.json only; any other root is named through WALRUS_CONTEXT.
            Console.WriteLine($"Point walrusctl at this cluster: export WALRUS_CONTEXT={context}. Then try, from the repository root:");
        }

        Console.WriteLine("  dotnet run -c Release --project tools/WalrusGossip.Cli -- append hello world");
        Console.WriteLine("  dotnet run -c Release --project tools/WalrusGossip.Cli -- read --from 1");
        Console.WriteLine("  dotnet run -c Release --project tools/WalrusGossip.Cli -- status");
        Console.WriteLine("  dotnet run -c Release --project tools/WalrusGossip.Cli -- members");
        Console.WriteLine("  curl http://127.0.0.1:7401/metrics");
        Console.WriteLine("  open http://127.0.0.1:7401/ui   (the live web view of the mesh)");
        Console.WriteLine();
        Console.WriteLine("Press Ctrl+C to stop the cluster.");
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
