using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.Json;
using WalrusGossip.Transport;

namespace WalrusGossip.Agent.Tests;

/// <summary>Real walrus-agent processes on loopback with their own certificates, ports and data directories.</summary>
internal sealed partial class AgentProcesses : IAsyncDisposable
{
    private readonly Dictionary<int, Process> _running = [];
    private readonly Dictionary<int, AgentPorts> _ports = [];
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(2) };

    public AgentProcesses()
    {
        Root = Path.Combine(Path.GetTempPath(), "walrus-agents-" + Guid.NewGuid().ToString("N"));
        Certs = Path.Combine(Root, "certs");
        Directory.CreateDirectory(Certs);
        Ca = DevCertificates.CreateCa("test CA");
        DevCertificates.ExportPem(Ca, Path.Combine(Certs, "ca.pem"), Path.Combine(Certs, "ca.key"));
    }

    public string Root { get; }

    public string Certs { get; }

    public System.Security.Cryptography.X509Certificates.X509Certificate2 Ca { get; }

    public AgentPorts PortsOf(int id) => _ports[id];

    public string DataDirOf(int id) => Path.Combine(Root, $"node-{id}");

    public IEnumerable<int> Running => _running.Keys;

    /// <summary>Reserves ports for agents 1..n (gossip ports free for both UDP and TCP).</summary>
    public void Reserve(int count)
    {
        for (var id = 1; id <= count; id++)
        {
            if (!_ports.ContainsKey(id))
            {
                _ports[id] = new AgentPorts(FreeTcpPort(), FreeTcpPort(), FreeGossipPort(), FreeTcpPort());
                var cert = DevCertificates.CreateNodeCertificate(Ca, $"node-{id}", ["localhost"], [IPAddress.Loopback], nodeId: (ulong)id);
                DevCertificates.ExportPem(cert, Path.Combine(Certs, $"node-{id}.pem"), Path.Combine(Certs, $"node-{id}.key"));
            }
        }
    }

    public void Start(int id, string[] extra, IReadOnlyDictionary<string, string>? environment = null)
    {
        Reserve(id);
        var p = _ports[id];
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "walrus-agent.dll"));
        foreach (var arg in new[]
                 {
                     "--node-id", id.ToString(CultureInfo.InvariantCulture), "--data-dir", DataDirOf(id),
                     "--client-listen", $"127.0.0.1:{p.Client}", "--peer-listen", $"127.0.0.1:{p.Peer}",
                     "--gossip-listen", $"127.0.0.1:{p.Gossip}", "--http-listen", $"127.0.0.1:{p.Http}",
                     "--ca", Path.Combine(Certs, "ca.pem"), "--cert", Path.Combine(Certs, $"node-{id}.pem"), "--key", Path.Combine(Certs, $"node-{id}.key"),
                 }.Concat(extra.Any(a => a.StartsWith("--Security:RequireClientAuth", StringComparison.Ordinal))
                     ? []
                     : ["--Security:RequireClientAuth=false"]) // these tests' clients hold no credentials; AuthTests turn it on
                 .Concat(extra))
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        var process = Process.Start(start)!;
        var log = new StreamWriter(Path.Combine(Root, $"node-{id}.out"), append: true) { AutoFlush = true };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (log) { log.WriteLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (log) { log.WriteLine(e.Data); } } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _running[id] = process;
    }

    /// <summary>Runs walrusctl (built beside the tests) and returns its exit code, standard output and standard error.</summary>
    public static Task<(int ExitCode, string Output, string Error)> RunWalrusctlAsync(string? stdin, params string[] args) => RunToolAsync("walrusctl.dll", stdin, args);

    /// <summary>Runs walrus-agent (built beside the tests) as a one-shot command (for example <c>recover</c>) and returns its exit code and output.</summary>
    public static Task<(int ExitCode, string Output, string Error)> RunAgentCommandAsync(params string[] args) => RunToolAsync("walrus-agent.dll", null, args);

    private static async Task<(int ExitCode, string Output, string Error)> RunToolAsync(string dll, string? stdin, string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, dll));
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
        }

        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(120));
        return (process.ExitCode, await output, await error);
    }

    /// <summary>A raw client connection (TCP + TLS, hello done) to agent <paramref name="id"/>, trusting this fixture's CA when <paramref name="trusted"/>.</summary>
    public async Task<IFrameConnection> ConnectClientAsync(int id, bool trusted = true)
    {
        var transport = TransportFactory.Create(new TransportOptions { Mode = TransportMode.Tcp, TrustedRoots = trusted ? [Ca] : null }, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, out _);
        var connection = await transport.ConnectAsync("127.0.0.1", PortsOf(id).Client, TestContext.Current.CancellationToken);
        await HelloHandshake.ConnectAsync(connection, new Protocol.Messages.Hello { Role = Protocol.Messages.ConnectionRole.Client, Name = "test" }, TestContext.Current.CancellationToken);
        return connection;
    }

    /// <summary>An SDK client of these agents (trusting this fixture's CA; 5 s request timeout).</summary>
    /// <param name="endpoints">Client endpoints to start from.</param>
    /// <param name="maxRetries">Attempts per request before it fails.</param>
    public WalrusGossip.Client.WalrusClient NewClient(string[] endpoints, int maxRetries = 20)
    {
        var options = new WalrusGossip.Client.WalrusClientOptions { CaFile = Path.Combine(Certs, "ca.pem"), RequestTimeout = TimeSpan.FromSeconds(5), MaxRetries = maxRetries };
        foreach (var e in endpoints)
        {
            options.Endpoints.Add(e);
        }

        return new WalrusGossip.Client.WalrusClient(options);
    }

    /// <summary>Reads entries [<paramref name="first"/>, <paramref name="last"/>] with linearizable range reads (stops early at the end of the log).</summary>
    public static async Task<List<WalrusGossip.Client.LogEntry>> ReadAllAsync(WalrusGossip.Client.WalrusClient client, ulong first, ulong last)
    {
        var entries = new List<WalrusGossip.Client.LogEntry>();
        for (var from = first; from <= last;)
        {
            var range = await client.ReadRangeAsync(from, 1000, 1 << 20, WalrusGossip.Client.Consistency.Linearizable);
            if (range.Entries.Count == 0)
            {
                break;
            }

            entries.AddRange(range.Entries.Where(e => e.Index <= last));
            from = range.Entries[^1].Index + 1;
        }

        return entries;
    }

    public string JoinList(int count) => string.Join(',', Enumerable.Range(1, count).Select(i => $"127.0.0.1:{_ports[i].Gossip}"));

    public void Kill(int id)
    {
        var process = _running[id];
        process.Kill(); // SIGKILL
        process.WaitForExit(10_000);
        process.Dispose();
        _running.Remove(id);
    }

    /// <summary>Sends SIGHUP to agent <paramref name="id"/> (certificate reload).</summary>
    public void Hangup(int id) => _ = SendSignal(_running[id].Id, 1);

    public async Task StopAsync(int id)
    {
        var process = _running[id];
        _ = SendSignal(process.Id, 15);
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(0, process.ExitCode);
        process.Dispose();
        _running.Remove(id);
    }

    public async Task<JsonElement?> StatusAsync(int id)
    {
        try
        {
            var text = await _http.GetStringAsync(new Uri($"http://127.0.0.1:{_ports[id].Http}/v1/status"));
            return JsonDocument.Parse(text).RootElement.Clone();
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
        {
            return null;
        }
    }

    /// <summary>The agent's <c>/metrics</c> text on HTTP port <paramref name="httpPort"/>, without the exporter's <c>otel_scope_name</c> label (see <see cref="WithoutScope"/>).</summary>
    public static async Task<string> MetricsAsync(int httpPort)
    {
        using var http = new HttpClient();
        return WithoutScope(await http.GetStringAsync(new Uri($"http://127.0.0.1:{httpPort}/metrics")));
    }

    /// <summary>Prometheus text with the OpenTelemetry exporter's <c>otel_scope_name</c> label removed, so series read as <c>name{labels} value</c>.</summary>
    public static string WithoutScope(string metrics) =>
        System.Text.RegularExpressions.Regex.Replace(metrics, @"\{otel_scope_name=""[^""]*""\}|otel_scope_name=""[^""]*"",?", "");

    /// <summary>Polls until <paramref name="condition"/> holds or the deadline passes.</summary>
    public static async Task<T> EventuallyAsync<T>(Func<Task<T?>> probe, TimeSpan limit, string what)
        where T : class
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < limit)
        {
            if (await probe() is { } value)
            {
                return value;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"{what} did not happen within {limit}");
    }

    public async Task<ulong> LeaderAsync(TimeSpan limit)
    {
        try
        {
            return await EventuallyAsync<object>(async () =>
            {
                foreach (var id in _running.Keys)
                {
                    if (await StatusAsync(id) is { } s && s.GetProperty("role").GetString() == "leader")
                    {
                        return (object)(ulong)id;
                    }
                }

                return null;
            }, limit, "leader election") is ulong leader ? leader : 0;
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException(e.Message + Environment.NewLine + await DiagnosticsAsync(), e);
        }
    }

    /// <summary>Each running agent's /v1/status and the last lines of its output, for a failure message.</summary>
    public async Task<string> DiagnosticsAsync(int lines = 40)
    {
        var text = new System.Text.StringBuilder();
        foreach (var id in _ports.Keys.Order())
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"--- agent {id} ({(_running.TryGetValue(id, out var p) ? (p.HasExited ? $"exited {p.ExitCode}" : "running") : "not started")})");
            text.AppendLine(CultureInfo.InvariantCulture, $"status: {(await StatusAsync(id))?.ToString() ?? "unreachable"}");
            var log = Path.Combine(Root, $"node-{id}.out");
            if (File.Exists(log))
            {
                using var stream = new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                var all = new StreamReader(stream).ReadToEnd().Split('\n');
                foreach (var line in all.TakeLast(lines))
                {
                    text.AppendLine(line);
                }
            }
        }

        return text.ToString();
    }

    public string[] ClientEndpoints(IEnumerable<int> ids) => ids.Select(i => $"127.0.0.1:{_ports[i].Client}").ToArray();

    public async ValueTask DisposeAsync()
    {
        foreach (var id in _running.Keys.ToList())
        {
            try
            {
                _running[id].Kill(entireProcessTree: true);
                await _running[id].WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (InvalidOperationException)
            {
            }

            _running[id].Dispose();
        }

        _http.Dispose();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    // Ports are taken below the kernel's ephemeral range: a port found free there and released stays free, whereas a
    // port picked by binding port 0 can be handed out again as the source port of any outgoing connection (the other
    // test assemblies run beside this one and open thousands), and an agent that cannot bind exits, so with
    // --bootstrap-expect 3 the cluster never elects a leader.
    private static readonly Lock PortGate = new();
    private static int _nextPort = 20_000 + (Environment.ProcessId % 1_000) * 10;

    private static int FreeTcpPort() => NextFreePort(udpToo: false);

    private static int FreeGossipPort() => NextFreePort(udpToo: true);

    private static int NextFreePort(bool udpToo)
    {
        lock (PortGate)
        {
            for (var attempt = 0; attempt < 10_000; attempt++)
            {
                var port = _nextPort++;
                if (_nextPort >= EphemeralLow())
                {
                    _nextPort = 20_000;
                }

                if (IsFree(port, udpToo))
                {
                    return port;
                }
            }

            throw new InvalidOperationException("no free loopback port below the ephemeral range");
        }
    }

    private static bool IsFree(int port, bool udpToo)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            if (udpToo)
            {
                using var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, port));
            }

            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static int EphemeralLow()
    {
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries);
            return Math.Max(21_000, int.Parse(range[0], CultureInfo.InvariantCulture));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 32_768;
        }
    }

    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int SendSignal(int pid, int signal);
}

internal readonly record struct AgentPorts(int Client, int Peer, int Gossip, int Http);
