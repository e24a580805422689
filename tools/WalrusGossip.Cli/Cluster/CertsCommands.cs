using System.CommandLine;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using WalrusGossip.Transport;

namespace WalrusGossip.Cli.Cluster;

/// <summary><c>walrusctl certs init</c>: a cluster CA, node certificates and the <c>admin</c> client certificate as PEM files (same layout as <c>walrus-agent dev-cluster</c>).</summary>
internal static class CertsCommands
{
    public static Command Create(CliConsole console)
    {
        var certs = new Command("certs", "Certificates for mutual TLS between agents");
        certs.Subcommands.Add(CreateInit(console));
        return certs;
    }

    private static Command CreateInit(CliConsole console)
    {
        var output = new Option<string>("--out") { Description = "Directory for ca.pem, ca.key, NODE.pem and NODE.key", Required = true };
        var nodes = new Option<string>("--nodes") { Description = "Comma-separated node names, e.g. node-1,node-2,node-3 (letters, digits, '.', '-', '_')", Required = true };
        var hosts = new Option<string?>("--hosts") { Description = "Extra comma-separated DNS names and IP addresses every node certificate carries (localhost, 127.0.0.1 and ::1 always)" };
        var ids = new Option<string?>("--ids") { Description = "Comma-separated Raft node ids, one per --nodes name, embedded as SAN URI walrus://node/ID (default: the trailing number of each name, node-3 -> 3)" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object: ca, created and kept files" };
        var command = new Command("init", "Create a cluster CA (or reuse the one in --out) and a certificate per node carrying its node id; existing node files are kept") { output, nodes, hosts, ids, json };
        command.SetAction(async (parse, _) =>
        {
            try
            {
                return await InitAsync(console, parse.GetValue(output)!, parse.GetValue(nodes)!, parse.GetValue(hosts), parse.GetValue(ids), parse.GetValue(json)).ConfigureAwait(false);
            }
            catch (Exception e) when (e is ArgumentException or IOException or UnauthorizedAccessException or CryptographicException)
            {
                await console.Error.WriteLineAsync($"walrusctl: {e.Message}").ConfigureAwait(false);
                return CliRunner.UsageOrIoError;
            }
        });
        return command;
    }

    internal static async Task<int> InitAsync(CliConsole console, string directory, string nodeList, string? hostList, string? idList = null, bool json = false)
    {
        var created = new List<string>();
        var kept = new List<string>();
        var text = json ? TextWriter.Null : console.Out;
        var names = nodeList.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (names.Length == 0)
        {
            throw new ArgumentException("--nodes needs at least one node name");
        }

        foreach (var name in names)
        {
            if (name is "ca" or "admin" || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_'))
            {
                throw new ArgumentException($"node name '{name}' must use letters, digits, '.', '-', '_' and not be 'ca' or 'admin'");
            }
        }

        var nodeIds = NodeIds(names, idList);
        var extra = (hostList ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var ips = extra.Select(h => IPAddress.TryParse(h, out var ip) ? ip : null).OfType<IPAddress>().ToList();
        var dns = extra.Where(h => !IPAddress.TryParse(h, out _)).ToList();

        Directory.CreateDirectory(directory);
        var caPem = Path.Combine(directory, "ca.pem");
        var caKey = Path.Combine(directory, "ca.key");
        X509Certificate2 ca;
        if (File.Exists(caPem) && File.Exists(caKey))
        {
            ca = DevCertificates.LoadPem(caPem, caKey);
            kept.Add(caPem);
            await text.WriteLineAsync($"reusing CA      {caPem}").ConfigureAwait(false);
        }
        else if (File.Exists(caPem) || File.Exists(caKey))
        {
            throw new ArgumentException($"{directory} holds only one of ca.pem and ca.key; remove it or choose another --out");
        }
        else
        {
            ca = DevCertificates.CreateCa("walrus-cluster-ca");
            DevCertificates.ExportPem(ca, caPem, caKey);
            created.AddRange([caPem, caKey]);
            await text.WriteLineAsync($"created CA      {caPem} (key {caKey}: keep it private)").ConfigureAwait(false);
        }

        using (ca)
        {
            foreach (var (name, nodeId) in names.Zip(nodeIds))
            {
                var pem = Path.Combine(directory, name + ".pem");
                var key = Path.Combine(directory, name + ".key");
                if (File.Exists(pem) && File.Exists(key))
                {
                    kept.AddRange([pem, key]);
                    await text.WriteLineAsync($"kept            {pem}").ConfigureAwait(false);
                    continue;
                }

                using var certificate = DevCertificates.CreateNodeCertificate(ca, name, [name, .. dns], ips, nodeId: nodeId);
                DevCertificates.ExportPem(certificate, pem, key);
                created.AddRange([pem, key]);
                await text.WriteLineAsync($"created node    {pem} (key {key}, node id {(nodeId == 0 ? "none" : nodeId.ToString(System.Globalization.CultureInfo.InvariantCulture))})").ConfigureAwait(false);
            }

            var adminPem = Path.Combine(directory, "admin.pem");
            if (!File.Exists(adminPem))
            {
                using var admin = DevCertificates.CreateClientCertificate(ca, "admin");
                DevCertificates.ExportPem(admin, adminPem, Path.Combine(directory, "admin.key"));
                created.AddRange([adminPem, Path.Combine(directory, "admin.key")]);
                await text.WriteLineAsync($"created client  {adminPem} (identity admin: walrusctl --cert {adminPem} --key {Path.Combine(directory, "admin.key")})").ConfigureAwait(false);
            }
        }

        if (json)
        {
            await console.Out.WriteLineAsync(System.Text.Json.JsonSerializer.Serialize(new { ca = caPem, created, kept })).ConfigureAwait(false);
        }

        return CliRunner.Ok;
    }

    /// <summary>The node id of each name: from <paramref name="idList"/> when given, else the name's trailing number (0 when it has none).</summary>
    private static ulong[] NodeIds(string[] names, string? idList)
    {
        if (idList is null)
        {
            return [.. names.Select(n =>
            {
                var digits = n.Length - n.AsSpan().TrimEnd("0123456789").Length;
                return digits > 0 && ulong.TryParse(n.AsSpan(n.Length - digits), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id) ? id : 0;
            })];
        }

        var parts = idList.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length != names.Length)
        {
            throw new ArgumentException($"--ids has {parts.Length} ids for {names.Length} --nodes names");
        }

        return [.. parts.Select(p => ulong.TryParse(p, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id) && id != 0
            ? id
            : throw new ArgumentException($"--ids entry '{p}' is not a node id (1 or more)"))];
    }
}
