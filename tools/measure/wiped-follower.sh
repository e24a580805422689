#!/usr/bin/env bash
# A follower whose data directory is wiped rejoins under load and catches up through a chunked snapshot: a local
# 3-agent cluster with 256 MiB retention takes 1,000 clients' appends (50 SDK clients, so the session table, which the
# snapshot carries, is large) for DURATION; after WIPE_AT agent 3 is SIGKILLed, its data directory emptied, and it is
# started again with the same command line. Afterwards the three replicas are compared over their common range.
#   tools/measure/wiped-follower.sh OUT_DIR [DURATION (90s)] [WIPE_AT seconds (30)] [CHUNK_BYTES (1048576)]
# A follower (not the leader) is wiped.
set -euo pipefail
out=$(realpath -m "$1"); duration=${2:-90s}; wipe_at=${3:-30}; chunk=${4:-1048576}
mkdir -p "$out"
bin="$(dirname "$0")/../WalrusGossip.LoadTest/bin/Release/net10.0"
ctl="$(dirname "$0")/../WalrusGossip.Cli/bin/Release/net10.0/walrusctl.dll"
root=$(mktemp -d /tmp/walrus-wipe-XXXXXX)
dotnet "$bin/walrus-agent.dll" dev-cluster --data-root "$root" -- --Storage:Retention:MaxBytes=268435456 "--Raft:SnapshotChunkBytes=$chunk" > "$out/cluster.log" 2>&1 &
cluster=$!
agent=""
trap 'kill -KILL $agent 2>/dev/null || true; kill -TERM $cluster 2>/dev/null || true; wait $cluster 2>/dev/null || true; for n in 1 2 3; do cp "$root/node-$n/agent.out" "$out/node-$n.out" 2>/dev/null || true; done; rm -rf "$root"' EXIT
for _ in $(seq 1 120); do grep -q "dev cluster is up" "$out/cluster.log" && break; sleep 1; done
dotnet "$bin/walrus-loadtest.dll" append --context "$root/walrusctl.json" --clients 1000 --sdk-clients 50 --payload 1280 --duration "$duration" --warmup 0 --json "$out/load.json" > "$out/load.txt" 2>&1 &
load=$!
sleep "$wipe_at"
role() { curl -s "http://127.0.0.1:740$1/v1/status" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("role"))' 2>/dev/null; }
victim=3; for n in 3 2 1; do [ "$(role $n)" = follower ] && { victim=$n; break; }; done
pid=$(pgrep -f -- "--data-dir $root/node-$victim" | head -1)
mapfile -d '' argv < "/proc/$pid/cmdline"
kill -KILL "$pid"
find "$root/node-$victim" -mindepth 1 -maxdepth 1 ! -name agent.out -exec rm -rf {} +
began=$(date +%s.%N)
"${argv[@]}" >> "$out/agent-$victim.out" 2>&1 &
agent=$!
applied() { curl -s "http://127.0.0.1:740$1/v1/status" | python3 -c 'import json,sys; s=json.load(sys.stdin); n=s.get("node", s); print(n.get("appliedIndex", 0), n.get("firstIndex", 0))' 2>/dev/null || echo "0 0"; }
until read -r a3 f3 < <(applied $victim) && [ "$a3" -gt 0 ]; do sleep 0.2; done
echo "wiped follower $victim restarted; first applied state after $(echo "$(date +%s.%N) - $began" | bc) s: applied $a3, log from $f3" | tee "$out/summary.txt"
wait $load || true
other=$(( victim == 1 ? 2 : 1 ))
read -r a1 _ < <(applied $other)
for _ in $(seq 1 120); do read -r a3 f3 < <(applied $victim); [ "$a3" -ge "$a1" ] && break; sleep 1; done
echo "after the load: agent $other applied $a1, wiped agent $victim applied $a3 (log from $f3)" | tee -a "$out/summary.txt"
grep -h "snapshot" "$root"/node-*/agent.out "$out/agent-$victim.out" | grep -v "^$" | tail -20 > "$out/snapshot-lines.txt" || true
read -r _ f1 < <(applied 1); read -r _ f2 < <(applied 2); read -r _ f3 < <(applied 3)
from=$(printf '%s\n' "$f1" "$f2" "$f3" | sort -n | tail -1); count=20000
for n in 1 2 3; do
  dotnet "$ctl" --context "$root/walrusctl.json" read --stale --endpoints "127.0.0.1:710$n" --from "$from" --count "$count" --json | sha256sum | cut -c1-16 > "$out/hash-$n.txt"
done
echo "entries $from..$((from + count - 1)) by replica: $(cat "$out"/hash-1.txt) $(cat "$out"/hash-2.txt) $(cat "$out"/hash-3.txt)" | tee -a "$out/summary.txt"
grep -E "appends/s|p99" "$out/load.txt" | head -3 | tee -a "$out/summary.txt"
