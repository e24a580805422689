using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using WalrusGossip.Client.Diagnostics;

namespace WalrusGossip.LoadTest;

/// <summary>The result of one run; the JSON field names are the tool's contract.</summary>
internal sealed record LoadReport(
    [property: JsonPropertyName("scenario")] string Scenario,
    [property: JsonPropertyName("clients")] int Clients,
    [property: JsonPropertyName("payloadBytes")] int PayloadBytes,
    [property: JsonPropertyName("seconds")] double Seconds,
    [property: JsonPropertyName("ops")] long Ops,
    [property: JsonPropertyName("opsPerSec")] double OpsPerSec,
    [property: JsonPropertyName("mbPerSec")] double MbPerSec,
    [property: JsonPropertyName("p50Ms")] double P50Ms,
    [property: JsonPropertyName("p90Ms")] double P90Ms,
    [property: JsonPropertyName("p99Ms")] double P99Ms,
    [property: JsonPropertyName("p999Ms")] double P999Ms,
    [property: JsonPropertyName("maxMs")] double MaxMs,
    [property: JsonPropertyName("errors")] IReadOnlyDictionary<string, long> Errors)
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>Lines printed after the table (tail lag, failover figures); not part of the JSON.</summary>
    [JsonIgnore]
    public List<string> Notes { get; } = [];

    /// <summary>failover only: milliseconds from each measured kill to the first append committed in a newer term, in kill order.</summary>
    [JsonPropertyName("failoverMs")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<double>? FailoverMs { get; set; }

    /// <summary>failover only: the median of <see cref="FailoverMs"/> (null when no kill was measured).</summary>
    [JsonPropertyName("failoverMedianMs")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? FailoverMedianMs { get; set; }

    /// <summary>µs of CPU (user + kernel) per operation over the measured window, generator and local agents together (see <see cref="ProcessCpu"/>); null when not measured.</summary>
    [JsonPropertyName("cpuUsPerOp")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? CpuUsPerOp { get; set; }

    public static LoadReport From(string scenario, int clients, int payloadBytes, double seconds, long ops, LatencyHistogram latency, IReadOnlyDictionary<string, long> errors)
    {
        static double Ms(long ticks) => Math.Round(Recorder.ToMs(ticks), 3);
        seconds = Math.Max(seconds, 1e-9);
        return new LoadReport(scenario, clients, payloadBytes, Math.Round(seconds, 3), ops,
            Math.Round(ops / seconds, 1), Math.Round(ops * (double)payloadBytes / seconds / 1e6, 2),
            Ms(latency.ValueAt(0.50)), Ms(latency.ValueAt(0.90)), Ms(latency.ValueAt(0.99)), Ms(latency.ValueAt(0.999)), Ms(latency.Max),
            new SortedDictionary<string, long>(errors.ToDictionary(), StringComparer.Ordinal));
    }

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public void Print(TextWriter w)
    {
        var inv = CultureInfo.InvariantCulture;
        w.WriteLine(string.Create(inv, $"scenario {Scenario}: {Clients} clients, {PayloadBytes} B payload, {Seconds:F1} s measured"));
        w.WriteLine(string.Create(inv, $"  requests   {Ops:N0}   {OpsPerSec:N0} ops/s   {MbPerSec:F2} MB/s"));
        w.WriteLine(string.Create(inv, $"  latency ms p50 {P50Ms:F2}  p90 {P90Ms:F2}  p99 {P99Ms:F2}  p99.9 {P999Ms:F2}  max {MaxMs:F2}"));
        w.WriteLine(Errors.Count == 0 ? "  errors     none" : "  errors     " + string.Join(", ", Errors.Select(e => $"{e.Key} {e.Value}")));
        foreach (var note in Notes)
        {
            w.WriteLine("  " + note);
        }
    }
}
