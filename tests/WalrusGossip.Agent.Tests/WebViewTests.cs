using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Microsoft.Playwright;
using WalrusGossip.Agent.Http;

namespace WalrusGossip.Agent.Tests;

/// <summary>
/// The web view (<c>/ui</c>, data from <c>/v1/mesh</c>) in headless Chromium, on a real 3-agent cluster: all three
/// alive, then agent 3 SIGKILLed and seen to turn dead on the open page (it updates itself; no reload). Chromium is
/// Debian's <c>chromium</c> package (installed by <c>.ci/run</c> when missing), driven by Playwright's .NET driver
/// with <c>ExecutablePath</c>; Playwright never downloads a browser here. The screenshot goes to the test output
/// directory, and with <c>WALRUS_UPDATE_SCREENSHOT=1</c> also to <c>docs/images/web-view.png</c> in the source tree.
/// </summary>
[Collection(AgentCollection.Name)]
public sealed class WebViewTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task The_web_view_of_a_three_agent_cluster_shows_all_alive_then_a_SIGKILLed_agent_dead_without_a_reload()
    {
        var chromium = FindChromium();
        if (chromium is null)
        {
            Assert.Skip("Chromium is not installed (Debian package 'chromium'; .ci/run installs it when it can, or set WALRUS_CHROMIUM to a Chromium binary)");
        }

        var clock = Stopwatch.StartNew();
        await using var agents = new AgentProcesses();
        agents.Reserve(3);
        for (var id = 1; id <= 3; id++)
        {
            agents.Start(id, ["--join", agents.JoinList(3), "--bootstrap-expect", "3"]);
        }

        // The browser starts while the agents elect a leader.
        using var playwright = await Playwright.CreateAsync();
        var launch = playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        });
        await agents.LeaderAsync(Deadline);
        output.WriteLine($"leader elected after {clock.Elapsed.TotalSeconds:F1} s");

        // A light, bounded append load so the page has rates and latencies to show (at most 20,000 appends, stopped with the test).
        using var stopLoad = new CancellationTokenSource();
        await using var client = agents.NewClient(agents.ClientEndpoints([1, 2, 3]));
        var appended = 0;
        var load = Task.Run(async () =>
        {
            var payload = Encoding.UTF8.GetBytes(new string('w', 200));
            while (!stopLoad.IsCancellationRequested && appended < 20_000)
            {
                try
                {
                    await client.AppendAsync(payload, "web-view", stopLoad.Token);
                    appended++;
                    await Task.Delay(5, stopLoad.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                catch (WalrusGossip.Client.WalrusException)
                {
                    // the failover after the kill; the client retries the next one
                }
            }
        });

        var url = $"http://127.0.0.1:{agents.PortsOf(1).Http}/ui";
        await using var browser = await launch;
        output.WriteLine($"browser ready after {clock.Elapsed.TotalSeconds:F1} s");
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 560 } });
        var console = new List<string>();
        page.Console += (_, m) => { lock (console) { console.Add($"{m.Type}: {m.Text}"); } };
        page.PageError += (_, e) => { lock (console) { console.Add("page error: " + e); } };
        await page.GotoAsync(url);
        output.WriteLine($"page loaded after {clock.Elapsed.TotalSeconds:F1} s");

        var alive = await UntilAsync(page, states => states == "1=alive,2=alive,3=alive", "all three members alive on the page", console);
        output.WriteLine($"page shows {alive} after {clock.Elapsed.TotalSeconds:F1} s");

        agents.Kill(3);
        var killedAt = clock.Elapsed;
        var dead = await UntilAsync(page, states => states.Contains("3=dead", StringComparison.Ordinal), "agent 3 dead on the page", console);
        output.WriteLine($"page shows {dead} {(clock.Elapsed - killedAt).TotalSeconds:F1} s after the SIGKILL");
        Assert.StartsWith("1=alive,2=alive", dead, StringComparison.Ordinal);
        Assert.Equal("false", await page.GetAttributeAsync("tr[data-member='3']", "data-reachable"));
        Assert.Equal("dead", await page.TextContentAsync("tr[data-member='3'] [data-swim]"));

        // For the picture: a leader among the survivors, and appends flowing again through it.
        await UntilAsync(page, async p => await p.EvaluateAsync<string>(
            "() => { const r = [...document.querySelectorAll('tr[data-member]')].find(t => t.querySelector('.role.leader')); " +
            "return r && r.dataset.member !== '3' && document.getElementById('c-rate').textContent !== '–' && document.getElementById('c-rate').textContent !== '0' ? r.dataset.member : ''; }") is { Length: > 0 } leader ? leader : null,
            "a surviving leader with appends committing, on the page", console);

        var shot = Path.Combine(AppContext.BaseDirectory, "web-view.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = shot, FullPage = true });
        output.WriteLine($"screenshot {shot} ({new FileInfo(shot).Length} bytes); {appended} appends; test took {clock.Elapsed.TotalSeconds:F1} s");
        if (Environment.GetEnvironmentVariable("WALRUS_UPDATE_SCREENSHOT") == "1" && SourceRoot() is { } root)
        {
            var docs = Path.Combine(root, "docs", "images", "web-view.png");
            Directory.CreateDirectory(Path.GetDirectoryName(docs)!);
            File.Copy(shot, docs, overwrite: true);
            output.WriteLine($"copied to {docs}");
        }

        await stopLoad.CancelAsync();
        await load;
    }

    [Fact]
    public async Task The_mesh_endpoint_reports_every_member_with_its_own_status_and_the_page_is_served_from_the_assembly()
    {
        await using var agents = new AgentProcesses();
        agents.Reserve(3);
        for (var id = 1; id <= 3; id++)
        {
            agents.Start(id, ["--join", agents.JoinList(3), "--bootstrap-expect", "3"]);
        }

        var leader = await agents.LeaderAsync(Deadline);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var baseUri = $"http://127.0.0.1:{agents.PortsOf(2).Http}";
        var mesh = await AgentProcesses.EventuallyAsync(async () =>
        {
            JsonElement doc;
            try
            {
                doc = JsonDocument.Parse(await http.GetStringAsync(new Uri(baseUri + "/v1/mesh"))).RootElement.Clone();
            }
            catch (HttpRequestException)
            {
                return null; // 503 while starting
            }

            var members = doc.GetProperty("members").EnumerateArray().ToList();
            return members.Count == 3 && members.All(m => m.GetProperty("reachable").GetBoolean() && m.GetProperty("state").GetString() == "alive") &&
                   members.Count(m => m.GetProperty("role").GetString() == "leader") == 1
                ? (object)doc
                : null;
        }, Deadline, "a full mesh on agent 2") is JsonElement e ? e : default;

        Assert.Equal(2UL, mesh.GetProperty("node").GetUInt64());
        Assert.Equal(leader, mesh.GetProperty("leaderId").GetUInt64());
        var rows = mesh.GetProperty("members").EnumerateArray().ToList();
        Assert.Equal(new[] { "1", "2", "3" }, rows.Select(m => m.GetProperty("name").GetString()));
        Assert.Equal(new[] { false, true, false }, rows.Select(m => m.GetProperty("local").GetBoolean()));
        foreach (var (row, id) in rows.Select((r, i) => (r, i + 1)))
        {
            Assert.Equal($"127.0.0.1:{agents.PortsOf(id).Http}", row.GetProperty("http").GetString());
            Assert.True(row.GetProperty("term").GetUInt64() >= 1);
            Assert.True(row.GetProperty("logBytes").GetInt64() > 0);
            Assert.False(string.IsNullOrEmpty(row.GetProperty("version").GetString()));
        }

        var status = JsonDocument.Parse(await http.GetStringAsync(new Uri(baseUri + "/v1/status"))).RootElement;
        Assert.Equal(AgentVersionOfBuild(), status.GetProperty("version").GetString());
        Assert.Equal(14, status.GetProperty("appendLatency").GetProperty("counts").GetArrayLength());

        using var page = await http.GetAsync(new Uri(baseUri + "/ui"));
        Assert.Equal("text/html; charset=utf-8", page.Content.Headers.ContentType?.ToString());
        Assert.Contains("data-member", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var root = await http.GetAsync(new Uri(baseUri + "/"));
        Assert.Equal(new Uri(baseUri + "/ui"), root.RequestMessage?.RequestUri); // "/" redirects to the page
    }

    [Fact]
    public void The_web_view_page_loads_nothing_from_outside_the_agent()
    {
        var html = Encoding.UTF8.GetString(HttpEndpoints.WebViewPage.Value);
        Assert.Contains("fetch(\"/v1/mesh\"", html, StringComparison.Ordinal);
        foreach (var outside in new[] { "http://", "https://", "src=", "<link", "@import", "url(" })
        {
            Assert.DoesNotContain(outside, html, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public void Web_view_latency_quantiles_interpolate_within_the_histogram_bucket()
    {
        double[] bounds = [0.001, 0.002, 0.005];
        Assert.Null(HttpEndpoints.LatencyQuantile(bounds, [0, 0, 0, 0], 0.5));
        Assert.Equal(0.0015, HttpEndpoints.LatencyQuantile(bounds, [0, 10, 0, 0], 0.5)!.Value, 9);
        Assert.Equal(0.001, HttpEndpoints.LatencyQuantile(bounds, [10, 0, 0, 0], 1.0)!.Value, 9);
        Assert.Equal(0.005, HttpEndpoints.LatencyQuantile(bounds, [98, 0, 0, 2], 0.99)!.Value, 9); // the unbounded bucket: its lower bound
        Assert.Equal(0.0035, HttpEndpoints.LatencyQuantile(bounds, [50, 0, 50, 0], 0.75)!.Value, 9);
    }

    private static string AgentVersionOfBuild() => WalrusGossip.Agent.Hosting.AgentVersion.Current;

    /// <summary>The rows' <c>member=state</c> pairs, polled until <paramref name="done"/> holds or the deadline passes.</summary>
    private static Task<string> UntilAsync(IPage page, Func<string, bool> done, string what, List<string> console) =>
        UntilAsync(page, async p =>
        {
            var states = await p.EvaluateAsync<string>("() => [...document.querySelectorAll('tr[data-member]')].map(r => r.dataset.member + '=' + r.dataset.state).join(',')");
            return done(states) ? states : null;
        }, what, console);

    private static async Task<string> UntilAsync(IPage page, Func<IPage, Task<string?>> probe, string what, List<string> console)
    {
        var clock = Stopwatch.StartNew();
        string? last = null;
        while (clock.Elapsed < Deadline)
        {
            if (await probe(page) is { } value)
            {
                return value;
            }

            last = await page.EvaluateAsync<string>("() => document.querySelector('main').innerText");
            await Task.Delay(200);
        }

        lock (console)
        {
            throw new TimeoutException($"{what}: not within {Deadline}; the page showed:\n{last}\nconsole:\n{string.Join('\n', console)}");
        }
    }

    private static string? FindChromium()
    {
        foreach (var candidate in new[] { Environment.GetEnvironmentVariable("WALRUS_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser" })
        {
            if (!string.IsNullOrEmpty(candidate) && File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    private static string? SourceRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "WalrusGossip.sln")))
            {
                return dir.FullName;
            }
        }

        return null;
    }
}
