namespace WalrusGossip.Client;

/// <summary>A durable consumer (<see cref="WalrusClient.GetConsumerInfoAsync"/>, <see cref="WalrusClient.ListConsumersAsync"/>).</summary>
/// <param name="Stream">Its stream.</param>
/// <param name="Name">Its name.</param>
/// <param name="AckFloor">Every stream sequence at or below it is acknowledged (replicated on every agent).</param>
/// <param name="AckTimeout">How long a delivered entry may stay unacknowledged before it is delivered again.</param>
/// <param name="Pending">Entries delivered and not yet acknowledged (known by the leader; 0 from other agents).</param>
/// <param name="Redeliveries">Entries delivered again after their ack timeout under the current leader.</param>
/// <param name="LastSequence">The stream's last sequence: <c>LastSequence - AckFloor</c> is how far behind the consumer is.</param>
public sealed record ConsumerInfo(string Stream, string Name, ulong AckFloor, TimeSpan AckTimeout, ulong Pending, ulong Redeliveries, ulong LastSequence);

/// <summary>An entry handed to a consumer instance by <see cref="WalrusClient.ConsumeAsync"/>: acknowledge it with <see cref="WalrusClient.AckAsync"/>.</summary>
/// <param name="Entry">The entry, with its <see cref="LogEntry.StreamSequence"/>.</param>
/// <param name="DeliveryCount">1 the first time the current leader delivers it; more when an ack timeout sent it again.</param>
public sealed record ConsumedEntry(LogEntry Entry, int DeliveryCount);
