#!/usr/bin/env bash
# A local 3-agent cluster under a closed-loop append load, with each agent's data directory size sampled every second.
#   tools/measure/retention-run.sh OUT_DIR RETENTION_BYTES [DURATION] [-- EXTRA AGENT ARGS]
# RETENTION_BYTES is Storage:Retention:MaxBytes (0 keeps everything). Writes OUT_DIR/du.csv (unix time, bytes of
# node-1..3), OUT_DIR/load.json (walrus-loadtest's result) and OUT_DIR/summary.txt. Build first:
#   dotnet build WalrusGossip.sln -c Release
set -euo pipefail
out=$(realpath -m "$1"); retention=$2; duration=${3:-60s}
shift $(( $# >= 3 ? 3 : $# ))
[ "${1:-}" = "--" ] && shift
mkdir -p "$out"
bin="$(dirname "$0")/../WalrusGossip.LoadTest/bin/Release/net10.0"
root=$(mktemp -d /tmp/walrus-measure-XXXXXX)
dotnet "$bin/walrus-agent.dll" dev-cluster --data-root "$root" -- "--Storage:Retention:MaxBytes=$retention" "$@" > "$out/cluster.log" 2>&1 &
cluster=$!
trap 'kill -TERM $cluster 2>/dev/null || true; wait $cluster 2>/dev/null || true; for n in 1 2 3; do cp "$root/node-$n/agent.out" "$out/agent-$n.out" 2>/dev/null || true; done; rm -rf "$root"' EXIT
for _ in $(seq 1 120); do grep -q "dev cluster is up" "$out/cluster.log" && break; sleep 1; done
grep -q "dev cluster is up" "$out/cluster.log" || { echo "cluster did not come up" >&2; exit 1; }
( while kill -0 $cluster 2>/dev/null; do
    printf '%s' "$(date +%s)"; for n in 1 2 3; do printf ',%s' "$(du -sb "$root/node-$n" 2>/dev/null | cut -f1)"; done; echo
    sleep 1
  done ) > "$out/du.csv" &
sampler=$!
dotnet "$bin/walrus-loadtest.dll" append --context "$root/walrusctl.json" --clients 1000 --payload 1280 --duration "$duration" --json "$out/load.json" 2>&1 | tee "$out/load.txt"
kill $sampler 2>/dev/null || true
awk -F, '{ for (i = 2; i <= 4; i++) if ($i > max[i]) max[i] = $i } END { printf "max data directory bytes: node-1 %.0f, node-2 %.0f, node-3 %.0f (%d samples)\n", max[2], max[3], max[4], NR }' "$out/du.csv" | tee "$out/summary.txt"
