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
                var cert = DevCertificates.CreateNodeCertificate(Ca, $"node-{id}", ["localhost"], [IPAddress.Loopback]);
                DevCertificates.ExportPem(cert, Path.Combine(Certs, $"node-{id}.pem"), Path.Combine(Certs, $"node-{id}.key"));
            }
        }
    }

    public void Start(int id, string[] extra)
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
                 }.Concat(extra))
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start)!;
        var log = new StreamWriter(Path.Combine(Root, $"node-{id}.out"), append: true) { AutoFlush = true };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (log) { log.WriteLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (log) { log.WriteLine(e.Data); } } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _running[id] = process;
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

    public async Task<ulong> LeaderAsync(TimeSpan limit) =>
        (await EventuallyAsync<object>(async () =>
        {
            foreach (var id in _running.Keys)
            {
                if (await StatusAsync(id) is { } s && s.GetProperty("role").GetString() == "leader")
                {
                    return (object)(ulong)id;
                }
            }

            return null;
        }, limit, "leader election") is ulong leader ? leader : 0);

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

    private static int FreeTcpPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static int FreeGossipPort()
    {
        while (true)
        {
            var port = FreeTcpPort();
            try
            {
                using var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException)
            {
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int SendSignal(int pid, int signal);
}

internal readonly record struct AgentPorts(int Client, int Peer, int Gossip, int Http);
