using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using WalrusGossip.Agent.Http;

namespace WalrusGossip.Agent.Hosting;

/// <summary>
/// Holds back the host's "started" notification, and with it systemd's <c>READY=1</c> (sd_notify(3); sent by
/// <c>SystemdLifetime</c> when the application has started), until every port is bound and the node has joined: it
/// knows a leader of its cluster. Registered only when <c>NOTIFY_SOCKET</c> is set (<c>Type=notify</c>).
/// </summary>
/// <remarks>
/// A node that cannot join within <see cref="JoinWait"/> (for example the only agent of a three-voter cluster that
/// was restarted alone) is reported ready anyway, with a warning, so that systemd keeps it running: it still serves
/// <c>/health</c> and diagnostics, and <c>/ready</c> keeps answering 503 until it has a leader.
/// </remarks>
public sealed partial class SystemdReadiness(AgentService agent, ILogger<SystemdReadiness> logger) : IHostedLifecycleService
{
    /// <summary>Longest wait for a leader before reporting ready anyway: 60 s, below systemd's default start timeout of 90 s.</summary>
    public static readonly TimeSpan JoinWait = TimeSpan.FromSeconds(60);

    /// <inheritdoc />
    public async Task StartedAsync(CancellationToken cancellationToken)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew(); // monotonic: a wall-clock step neither shortens nor stretches the wait
        while (waited.Elapsed < JoinWait)
        {
            if (await LeaderAsync(cancellationToken).ConfigureAwait(false) is { } status)
            {
                LogJoined(logger, status.Node.LeaderId, status.Node.Term);
                return;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken).ConfigureAwait(false);
        }

        LogNotJoined(logger, JoinWait.TotalSeconds);
    }

    /// <summary>The status when the node knows a leader; null before that, and while the node is being reopened after a storage failure.</summary>
    private async Task<AgentStatus?> LeaderAsync(CancellationToken cancellationToken)
    {
        try
        {
            return agent.CaptureStatusAsync() is { } capture && await capture.WaitAsync(cancellationToken).ConfigureAwait(false) is { Node.LeaderId: > 0 } status ? status : null;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return null; // the loop stopped under us: the supervisor reopens it
        }
    }

    /// <inheritdoc />
    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "joined: leader {Leader} in term {Term}; notifying systemd READY=1")]
    private static partial void LogJoined(ILogger logger, ulong leader, ulong term);

    [LoggerMessage(Level = LogLevel.Warning, Message = "no leader after {Seconds} s; notifying systemd READY=1 anyway (/ready answers 503 until the node has a leader)")]
    private static partial void LogNotJoined(ILogger logger, double seconds);
}
