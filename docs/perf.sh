#!/usr/bin/env bash
# Regenerates the results table of docs/performance.md: builds walrus-loadtest, prints the machine, then runs each
# measurement against a fresh local 3-agent cluster (walrus-loadtest --local 3) and prints one markdown table row per run.
# Usage: docs/perf.sh [DURATION]   (default 60s, as the targets are stated; the failover run always takes 75s)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-60s}"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

dotnet build tools/WalrusGossip.LoadTest -c Release -v q -nologo >/dev/null
LT=(dotnet tools/WalrusGossip.LoadTest/bin/Release/net10.0/walrus-loadtest.dll)

echo "## Machine ($(date -u '+%Y-%m-%d %H:%M UTC'))"
echo
echo '```'
echo "nproc: $(nproc)   load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "memory: $(free -m | awk '/^Mem:/ {print $2 " MiB total, " $7 " MiB available"}')"
echo "kernel: $(uname -sr)"
echo "dotnet: $(dotnet --version)"
df -T "${TMPDIR:-/tmp}" | tail -1 | awk '{print "disk (temp dir, where --local keeps its data): " $1 " " $2}'
echo '```'
echo
echo "| run | command | ops/s | MB/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | errors | notes |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|"

run() { # name, then walrus-loadtest arguments
  local name="$1"; shift
  # Let the disk settle first: each run deletes its cluster's data (gigabytes of segments) as it ends, and ext4 frees
  # those extents through its journal; fsyncs of a run started at once queued behind that for up to a second (an open
  # loop right after a closed one: p99.9 82 ms with no pause, 35 ms after sync + 15 s, p50 10 and 9 ms).
  sync
  sleep 15
  local json="$OUT/$name.json" text="$OUT/$name.txt"
  if ! "${LT[@]}" "$@" --json "$json" >"$text" 2>"$OUT/$name.err"; then
    echo "| $name | \`walrus-loadtest $*\` | failed: $(tail -1 "$OUT/$name.err") |||||||||"
    return
  fi
  local notes
  notes="$( (grep -E '^  (failover|tail|open loop|linearizable|agent RSS|raft term)' "$text" || true) | sed 's/^  //' | paste -sd ';' - | sed 's/|/\//g')"
  jq -r --arg name "$name" --arg cmd "walrus-loadtest $*" --arg notes "$notes" \
    '"| \($name) | `\($cmd)` | \(.opsPerSec) | \(.mbPerSec) | \(.p50Ms) | \(.p90Ms) | \(.p99Ms) | \(.p999Ms) | \(.maxMs) | \(if (.errors|length)==0 then "none" else (.errors|to_entries|map("\(.key) \(.value)")|join(", ")) end) | \($notes) |"' "$json"
}

# Baseline for the disk, same sitting: fio's 4 KiB write + fdatasync latency (what one group commit costs at least).
# Fresh Debian/Ubuntu machines lack fio: install it when we may (root with apt-get), else the row is left out.
if ! command -v fio >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get install -y -qq fio >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq fio >/dev/null 2>&1; } || true
fi
if command -v fio >/dev/null; then
  FIO_DIR="$(mktemp -d)"
  fio --name=fsync --directory="$FIO_DIR" --rw=write --bs=4k --size=64M --ioengine=sync --fdatasync=1 --output-format=json >"$OUT/fio.json" 2>/dev/null || true
  rm -rf "$FIO_DIR"
  echo "| fio baseline | \`fio --rw=write --bs=4k --ioengine=sync --fdatasync=1\` | $(jq -r '.jobs[0].write.iops | floor' "$OUT/fio.json") fsyncs/s | | $(jq -r '.jobs[0].sync.lat_ns.percentile["50.000000"] / 1e6' "$OUT/fio.json") (fdatasync p50) | | $(jq -r '.jobs[0].sync.lat_ns.percentile["99.000000"] / 1e6' "$OUT/fio.json") | | | | |"
fi

run append-64 append --local 3 --clients 64 --payload 1280 --duration "$DURATION" --warmup 5s
run append-1000 append --local 3 --clients 1000 --payload 1280 --duration "$DURATION" --warmup 5s
# The same load spread over 16 WalrusClient instances (16 connections) instead of one shared client.
run append-1000-16sdk append --local 3 --clients 1000 --sdk-clients 16 --payload 1280 --duration "$DURATION" --warmup 5s
# Open loop at half the closed-loop maximum just measured, latency from each request's intended send time.
HALF="$(jq -r '(.opsPerSec / 2) | floor' "$OUT/append-1000.json" 2>/dev/null || echo 500)"
run open-loop-50pct append --local 3 --rate "$HALF" --clients 1000 --payload 1280 --duration "$DURATION" --warmup 5s
run single-agent-64 append --local 1 --clients 64 --payload 1280 --duration "$DURATION" --warmup 5s
# Failover: 10 leader kills (each killed agent restarted); needs 3 s + 7 s per kill of --duration, so not $DURATION.
run failover failover --local 3 --clients 64 --payload 1280 --kills 10 --duration 75s --warmup 3s
