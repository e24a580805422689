using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace WalrusGossip.LoadTest;

/// <summary>
/// A local cluster for <c>--local N</c>: runs this repository's <c>walrus-agent dev-cluster</c> (copied next to
/// walrus-loadtest by the project reference) under a temporary directory, and finds each agent's process id among
/// its children so the failover scenario can SIGKILL the leader. dev-cluster does not restart a dead child, so
/// <see cref="RestartAgent"/> starts a killed agent again itself, with the command line, environment and working
/// directory captured by <see cref="CaptureCommand"/> before the kill. Dispose stops everything (SIGTERM, then SIGKILL),
/// restarted agents included.
/// </summary>
internal sealed partial class LocalCluster : IAsyncDisposable
{
    private readonly Process _devCluster;
    private readonly Dictionary<ulong, int> _agentPids;
    private readonly Dictionary<ulong, string> _clientEndpoints = [];
    private readonly List<(Process Process, AgentLog Log)> _restarted = [];
    private readonly Lock _gate = new();

    private LocalCluster(Process devCluster, string root, Dictionary<ulong, int> agentPids)
    {
        _devCluster = devCluster;
        Root = root;
        _agentPids = agentPids;
    }

    public string Root { get; }

    public string ContextPath => Path.Combine(Root, "walrusctl.json");

    /// <summary>The process id of the agent with <paramref name="nodeId"/> (the restarted process once it was restarted).</summary>
    /// <param name="nodeId">Raft node id.</param>
    /// <returns>The process id.</returns>
    public int PidOf(ulong nodeId)
    {
        lock (_gate)
        {
            return _agentPids.TryGetValue(nodeId, out var pid) ? pid : throw new InvalidOperationException($"no local agent with node id {nodeId}");
        }
    }

    /// <summary>The client endpoint (<c>host:port</c>) of the agent with <paramref name="nodeId"/>.</summary>
    /// <param name="nodeId">Raft node id.</param>
    /// <returns>The endpoint.</returns>
    public string ClientEndpointOf(ulong nodeId) =>
        _clientEndpoints.TryGetValue(nodeId, out var endpoint) ? endpoint : throw new InvalidOperationException($"no local agent with node id {nodeId}");

    /// <summary>The node ids of the local agents, in order.</summary>
    public IReadOnlyList<ulong> NodeIds
    {
        get
        {
            lock (_gate)
            {
                return [.. _agentPids.Keys.Order()];
            }
        }
    }

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
                    cluster._clientEndpoints[id] = ArgumentAfter(ReadArgv(child), "--client-listen") ?? $"127.0.0.1:{7100 + id}";
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
        KeyValuePair<ulong, int>[] agents;
        lock (_gate)
        {
            agents = [.. _agentPids];
        }

        foreach (var (id, pid) in agents)
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

    /// <summary>Whether the agent process with <paramref name="nodeId"/> is still running.</summary>
    /// <param name="nodeId">Raft node id.</param>
    /// <returns>True while its process exists (and is not a zombie).</returns>
    public bool IsRunning(ulong nodeId) => IsAlive(PidOf(nodeId));

    /// <summary>SIGKILLs the agent with <paramref name="nodeId"/>.</summary>
    /// <param name="nodeId">Raft node id.</param>
    public void KillAgent(ulong nodeId) => _ = Kill(PidOf(nodeId), 9);

    /// <summary>
    /// Reads how the agent with <paramref name="nodeId"/> was started (<c>/proc/PID/cmdline</c>, <c>environ</c>,
    /// <c>cwd</c> and <c>exe</c>), so that <see cref="RestartAgent"/> can start it again exactly so after a kill.
    /// </summary>
    /// <param name="nodeId">Raft node id.</param>
    /// <returns>The agent's command.</returns>
    /// <exception cref="InvalidOperationException">The process is gone or its command line cannot be read.</exception>
    public AgentCommand CaptureCommand(ulong nodeId)
    {
        var pid = PidOf(nodeId);
        try
        {
            var argv = ReadArgv(pid);
            var environment = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var pair in SplitNul(File.ReadAllText($"/proc/{pid}/environ")))
            {
                var eq = pair.IndexOf('=', StringComparison.Ordinal);
                if (eq > 0)
                {
                    environment[pair[..eq]] = pair[(eq + 1)..];
                }
            }

            var cwd = new DirectoryInfo($"/proc/{pid}/cwd").ResolveLinkTarget(returnFinalTarget: false)?.FullName;
            var exe = new FileInfo($"/proc/{pid}/exe").ResolveLinkTarget(returnFinalTarget: false)?.FullName;
            if (argv.Length == 0)
            {
                throw new InvalidOperationException($"node {nodeId} (pid {pid}): empty command line");
            }

            // argv[0] is what dev-cluster started (its own Environment.ProcessPath, i.e. dotnet); fall back to the
            // executable the kernel ran when argv[0] is not a path that exists.
            var fileName = Path.IsPathRooted(argv[0]) && File.Exists(argv[0]) ? argv[0] : exe ?? argv[0];
            var dataDir = ArgumentAfter(argv, "--data-dir") ?? Path.Combine(Root, $"node-{nodeId}");
            return new AgentCommand(nodeId, fileName, argv[1..], environment, cwd ?? Root, Path.Combine(dataDir, "agent.out"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"node {nodeId} (pid {pid}): cannot read its command line: {e.Message}", e);
        }
    }

    /// <summary>
    /// Starts an agent again with the command captured before it was killed, its output appended to its
    /// <c>agent.out</c> like dev-cluster does; the new process replaces the old one for <see cref="PidOf"/>,
    /// <see cref="ResidentMiB"/> and <see cref="DisposeAsync"/>.
    /// </summary>
    /// <param name="command">The command from <see cref="CaptureCommand"/>.</param>
    /// <returns>The new process (owned by this cluster; do not dispose it).</returns>
    public Process RestartAgent(AgentCommand command)
    {
        ArgumentNullException.ThrowIfNull(command);
        var start = new ProcessStartInfo(command.FileName)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = command.WorkingDirectory,
        };
        foreach (var arg in command.Arguments)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment.Clear();
        foreach (var (key, value) in command.Environment)
        {
            start.Environment[key] = value;
        }

        var log = new AgentLog(command.OutputFile);
        log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"--- walrus-loadtest: restarting node {command.NodeId} at {DateTime.UtcNow:O} ---"));
        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => log.WriteLine(e.Data);
        process.ErrorDataReceived += (_, e) => log.WriteLine(e.Data);
        try
        {
            if (!process.Start())
            {
                throw new InvalidOperationException($"could not start node {command.NodeId}: {command.FileName}");
            }
        }
        catch
        {
            process.Dispose();
            log.Dispose();
            throw;
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        lock (_gate)
        {
            _restarted.Add((process, log));
            _agentPids[command.NodeId] = process.Id;
        }

        return process;
    }

    public async ValueTask DisposeAsync()
    {
        (Process Process, AgentLog Log)[] agents;
        lock (_gate)
        {
            agents = [.. _restarted];
        }

        var restarted = agents.Select(a => a.Process).ToArray();

        try
        {
            // Restarted agents are children of this process, not of dev-cluster: stop them the same way (SIGTERM).
            foreach (var p in restarted.Where(p => !p.HasExited))
            {
                _ = Kill(p.Id, 15);
            }

            if (!_devCluster.HasExited)
            {
                _ = Kill(_devCluster.Id, 15); // dev-cluster stops its agents on SIGTERM
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(20));
                await _devCluster.WaitForExitAsync(wait.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            using (var wait = new CancellationTokenSource(TimeSpan.FromSeconds(15)))
            {
                foreach (var p in restarted)
                {
                    await p.WaitForExitAsync(wait.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                }
            }
        }
        finally
        {
            int[] pids;
            lock (_gate)
            {
                pids = [.. _agentPids.Values];
            }

            foreach (var pid in pids)
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
            foreach (var (p, log) in agents)
            {
                if (!p.HasExited)
                {
                    p.Kill(entireProcessTree: true);
                }

                p.Dispose();
                log.Dispose();
            }

            try
            {
                Directory.Delete(Root, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
    }

    private static bool IsAlive(int pid) => ReadArgv(pid).Length > 0; // a zombie's cmdline is empty

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

    private static string[] SplitNul(string text) => text.Split('\0', StringSplitOptions.RemoveEmptyEntries);

    private static string[] ReadArgv(int pid)
    {
        try
        {
            return SplitNul(File.ReadAllText($"/proc/{pid}/cmdline"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return []; // gone (DirectoryNotFoundException and FileNotFoundException are IOExceptions)
        }
    }

    private static string? ArgumentAfter(string[] argv, string name)
    {
        var at = Array.IndexOf(argv, name);
        return at >= 0 && at + 1 < argv.Length ? argv[at + 1] : null;
    }

    private static ulong NodeIdOf(int pid)
    {
        var text = ArgumentAfter(ReadArgv(pid), "--node-id");
        return text is not null && ulong.TryParse(text, CultureInfo.InvariantCulture, out var id) ? id : 0;
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

/// <summary>How one agent was started: what <see cref="LocalCluster.RestartAgent"/> runs again after a kill.</summary>
/// <param name="NodeId">Raft node id.</param>
/// <param name="FileName">The executable (dotnet).</param>
/// <param name="Arguments">The arguments after argv[0] (walrus-agent.dll and its options).</param>
/// <param name="Environment">The process environment at start.</param>
/// <param name="WorkingDirectory">The working directory.</param>
/// <param name="OutputFile">The agent's log (<c>DIR/node-N/agent.out</c>), appended to.</param>
internal sealed record AgentCommand(
    ulong NodeId,
    string FileName,
    IReadOnlyList<string> Arguments,
    IReadOnlyDictionary<string, string> Environment,
    string WorkingDirectory,
    string OutputFile);

/// <summary>A restarted agent's <c>agent.out</c>, appended to from its output and error streams; lines after Dispose are dropped.</summary>
internal sealed class AgentLog : IDisposable
{
    private readonly StreamWriter _writer;
    private readonly Lock _gate = new();
    private bool _closed;

    /// <summary>Opens <paramref name="path"/> for appending.</summary>
    /// <param name="path">The log file.</param>
    public AgentLog(string path) => _writer = new StreamWriter(path, append: true) { AutoFlush = true };

    /// <summary>Appends one line (null, the end of a stream, is ignored).</summary>
    /// <param name="line">The line.</param>
    public void WriteLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_gate)
        {
            if (!_closed)
            {
                _writer.WriteLine(line);
            }
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        lock (_gate)
        {
            if (!_closed)
            {
                _closed = true;
                _writer.Dispose();
            }
        }
    }
}
