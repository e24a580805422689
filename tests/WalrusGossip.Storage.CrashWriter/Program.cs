// Test support for the storage crash test: appends entries under `always` forever and prints each acknowledged
// index on its own line. The test kills this process with SIGKILL and then checks every printed index survived.
// Usage: WalrusGossip.Storage.CrashWriter <data-dir> <psync|uring> <writers>
using System.Buffers.Binary;
using System.Globalization;
using WalrusGossip.Storage;
using WalrusGossip.Storage.IO;

var dir = args[0];
var engine = Enum.Parse<IoEngine>(args[1], ignoreCase: true);
var writers = int.Parse(args[2], CultureInfo.InvariantCulture);
var options = new StorageOptions { MaxSegmentBytes = 256 * 1024, MaxEntryBytes = 16 * 1024, IoEngine = engine, Durability = DurabilityPolicy.Always };
using var storage = NodeStorage.Open(dir, options);
var output = Console.Out;
var gate = new object();
var tasks = new Task[writers];
for (var w = 0; w < writers; w++)
{
    tasks[w] = Task.Run(async () =>
    {
        var payload = new byte[8 + 200];
        while (true)
        {
            // Payload carries the writer-chosen token; the index is assigned by the store.
            BinaryPrimitives.WriteInt64LittleEndian(payload, Environment.TickCount64);
            var index = await storage.Log.AppendAsync(payload, term: 1).ConfigureAwait(false);
            lock (gate)
            {
                output.WriteLine(index.ToString(CultureInfo.InvariantCulture));
                output.Flush();
            }
        }
    });
}

await Task.WhenAll(tasks).ConfigureAwait(false);
return 0;
