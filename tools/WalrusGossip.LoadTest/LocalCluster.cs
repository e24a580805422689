using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace WalrusGossip.LoadTest;

/// <summary>
/// A local cluster for <c>--local N</c>: runs this repository's <c>walrus-agent dev-cluster</c> (copied next to
/// walrus-loadtest by the project reference) under a temporary directory, and finds each agent's process id among
/// its children so the failover scenario can SIGKILL the leader. Dispose stops everything (SIGTERM, then SIGKILL).
/// </summary>
internal sealed partial class LocalCluster : IAsyncDisposable
{
    private readonly Process _devCluster;
    private readonly Dictionary<ulong, int> _agentPids;

    private LocalCluster(Process devCluster, string root, Dictionary<ulong, int> agentPids)
    {
        _devCluster = devCluster;
        Root = root;
        _agentPids = agentPids;
    }

    public string Root { get; }

    public string ContextPath => Path.Combine(Root, "walrusctl.json");

    public int PidOf(ulong nodeId) => _agentPids.TryGetValue(nodeId, out var pid) ? pid : throw new InvalidOperationException($"no local agent with node id {nodeId}");

    public static async Task<LocalCluster> StartAsync(int nodes, TextWriter log, CancellationToken cancellationToken)
    {
        if (nodes is < 1 or > 9)
        {
            throw new ArgumentException($"--local must be 1..9 agents, got {nodes}");
        }

        for (var i = 1; i <= nodes; i++)
        {
            foreach (var port in new[] { 7100 + i, 7200 + i, 7400 + i })
            {
                if (PortInUse(port))
                {
                    throw new ArgumentException($"--local: port {port} is in use (is another dev cluster running?)");
                }
            }
        }

        var agentDll = Path.Combine(AppContext.BaseDirectory, "walrus-agent.dll");
        if (!File.Exists(agentDll))
        {
            throw new FileNotFoundException($"--local needs {agentDll} (build tools/WalrusGossip.LoadTest, which copies it)");
        }

        var root = Path.Combine(Path.GetTempPath(), "walrus-loadtest-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(root);
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { agentDll, "dev-cluster", "--nodes", nodes.ToString(CultureInfo.InvariantCulture), "--data-root", root })
        {
            start.ArgumentList.Add(a);
        }

        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start dotnet walrus-agent.dll dev-cluster");
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data?.Contains("dev cluster is up", StringComparison.Ordinal) == true)
            {
                ready.TrySetResult();
            }
        };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var cluster = new LocalCluster(process, root, []);
        try
        {
            log.WriteLine($"starting a local {nodes}-agent cluster under {root} ...");
            var exited = process.WaitForExitAsync(cancellationToken);
            var done = await Task.WhenAny(ready.Task, exited, Task.Delay(TimeSpan.FromSeconds(60), cancellationToken)).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            if (done != ready.Task)
            {
                throw new TimeoutException($"the local cluster did not elect a leader within 60 s (logs: {root}/node-N/agent.out)");
            }

            foreach (var child in ChildrenOf(process.Id))
            {
                var id = NodeIdOf(child);
                if (id != 0)
                {
                    cluster._agentPids[id] = child;
                }
            }

            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Resident memory (VmRSS) of each live agent in MiB, by node id.</summary>
    public Dictionary<ulong, double> ResidentMiB()
    {
        var result = new Dictionary<ulong, double>();
        foreach (var (id, pid) in _agentPids)
        {
            try
            {
                var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
                if (line is not null && long.TryParse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture, out var kb))
                {
                    result[id] = kb / 1024.0;
                }
            }
            catch (IOException)
            {
            }
        }

        return result;
    }

    /// <summary>SIGKILLs the agent with <paramref name="nodeId"/>.</summary>
    public void KillAgent(ulong nodeId) => _ = Kill(PidOf(nodeId), 9);

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_devCluster.HasExited)
            {
                _ = Kill(_devCluster.Id, 15); // dev-cluster stops its agents on SIGTERM
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(20));
                await _devCluster.WaitForExitAsync(wait.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
        finally
        {
            foreach (var pid in _agentPids.Values)
            {
                if (IsAlive(pid))
                {
                    _ = Kill(pid, 9);
                }
            }

            if (!_devCluster.HasExited)
            {
                _devCluster.Kill(entireProcessTree: true);
            }

            _devCluster.Dispose();
            try
            {
                Directory.Delete(Root, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
    }

    private static bool IsAlive(int pid) => File.Exists($"/proc/{pid}/cmdline") && File.ReadAllText($"/proc/{pid}/cmdline").Length > 0;

    private static List<int> ChildrenOf(int pid)
    {
        var result = new List<int>();
        foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            var path = Path.Combine(task, "children");
            if (File.Exists(path))
            {
                result.AddRange(File.ReadAllText(path).Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(s => int.Parse(s, CultureInfo.InvariantCulture)));
            }
        }

        return result;
    }

    private static ulong NodeIdOf(int pid)
    {
        try
        {
            var args = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0');
            var at = Array.IndexOf(args, "--node-id");
            return at >= 0 && at + 1 < args.Length && ulong.TryParse(args[at + 1], CultureInfo.InvariantCulture, out var id) ? id : 0;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static bool PortInUse(int port)
    {
        try
        {
            using var listener = new TcpListener(System.Net.IPAddress.Loopback, port);
            listener.Start();
            listener.Stop();
            return false;
        }
        catch (SocketException)
        {
            return true;
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
