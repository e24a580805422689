#!/usr/bin/env bash
# Restart time of an agent as a function of its retained log: a local 3-agent cluster is loaded for DURATION with
# PAYLOAD-byte appends (no retention: every entry stays), then agent 2 is SIGKILLed and started again with the same
# command line RUNS times; each restart is timed from process start until its /ready answers 200 (log recovered,
# state machine restored from its newest checkpoint and caught up, leader known).
#   tools/measure/restart-time.sh OUT_DIR DURATION PAYLOAD [RUNS]
# Writes OUT_DIR/restarts.txt. Build first: dotnet build WalrusGossip.sln -c Release
set -euo pipefail
out=$(realpath -m "$1"); duration=$2; payload=$3; runs=${4:-3}
mkdir -p "$out"
bin="$(dirname "$0")/../WalrusGossip.LoadTest/bin/Release/net10.0"
root=$(mktemp -d /tmp/walrus-restart-XXXXXX)
dotnet "$bin/walrus-agent.dll" dev-cluster --data-root "$root" > "$out/cluster.log" 2>&1 &
cluster=$!
agent=""
trap 'kill -KILL $agent 2>/dev/null || true; kill -TERM $cluster 2>/dev/null || true; wait $cluster 2>/dev/null || true; rm -rf "$root"' EXIT
for _ in $(seq 1 120); do grep -q "dev cluster is up" "$out/cluster.log" && break; sleep 1; done
dotnet "$bin/walrus-loadtest.dll" append --context "$root/walrusctl.json" --clients 1000 --payload "$payload" --duration "$duration" --warmup 0 > "$out/load.txt"
pid=$(pgrep -f -- "--data-dir $root/node-2" | head -1)
mapfile -d '' argv < "/proc/$pid/cmdline"
status() { curl -s http://127.0.0.1:7402/v1/status; }
: > "$out/restarts.txt"
for run in $(seq 1 "$runs"); do
  kill -KILL "${agent:-$pid}"
  sleep 2
  began=$(date +%s.%N)
  "${argv[@]}" >> "$out/agent-2.out" 2>&1 &
  agent=$!
  until [ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:7402/ready)" = 200 ]; do sleep 0.02; done
  ended=$(date +%s.%N)
  line=$(status | python3 -c 'import json,sys; n=json.load(sys.stdin); print("first", n.get("firstIndex"), "last", n.get("lastIndex"), "applied", n.get("appliedIndex"))' 2>/dev/null || echo "status unavailable")
  printf 'run %d: ready after %.3f s; %s; data dir %s bytes\n' "$run" "$(echo "$ended - $began" | bc)" "$line" "$(du -sb "$root/node-2" | cut -f1)" | tee -a "$out/restarts.txt"
done
