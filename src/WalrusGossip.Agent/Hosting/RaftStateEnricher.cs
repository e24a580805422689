using Serilog.Core;
using Serilog.Events;

namespace WalrusGossip.Agent.Hosting;

/// <summary>
/// Adds the node's current Raft <c>term</c> and <c>role</c> to every log event as structured properties. The values
/// are refreshed from the node loop a few times per second (<see cref="Update"/>), so a line logged during a leader
/// change may carry the previous role for up to that interval.
/// </summary>
public sealed class RaftStateEnricher : ILogEventEnricher
{
    private ulong _term;
    private string _role = "starting";

    /// <summary>Records the latest term and role.</summary>
    /// <param name="term">Current term.</param>
    /// <param name="role">Role name: leader, follower, candidate or learner.</param>
    public void Update(ulong term, string role)
    {
        Volatile.Write(ref _term, term);
        Volatile.Write(ref _role, role);
    }

    /// <inheritdoc />
    public void Enrich(LogEvent logEvent, ILogEventPropertyFactory propertyFactory)
    {
        ArgumentNullException.ThrowIfNull(logEvent);
        ArgumentNullException.ThrowIfNull(propertyFactory);
        logEvent.AddOrUpdateProperty(propertyFactory.CreateProperty("term", Volatile.Read(ref _term)));
        logEvent.AddOrUpdateProperty(propertyFactory.CreateProperty("role", Volatile.Read(ref _role)));
    }
}
