namespace WalrusGossip.LoadTest;

/// <summary>
/// append: the shared appends (<see cref="AppendLoad"/>, closed loop with <c>--clients</c> concurrent clients, or
/// open loop at <c>--rate</c> appends/s) and nothing else; the report's latency figures are append latency.
/// </summary>
internal sealed class AppendScenario : LoadScenario;
