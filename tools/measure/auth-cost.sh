#!/usr/bin/env bash
# Cost of client authentication/authorization and gossip encryption (issue 18): a local 3-agent cluster is run
# "off" (Security:RequireClientAuth=false, plaintext gossip, clients without a certificate) and "on" (authentication
# required, the admin client certificate checked on every request, AES-GCM gossip), alternating ROUNDS times in one
# sitting; each run is walrus-loadtest append, 1,000 clients, 1,280 B, durable quorum, for DURATION.
#   tools/measure/auth-cost.sh OUT_DIR [DURATION] [ROUNDS]
# Writes OUT_DIR/{off,on}-N.json and prints appends/s and p99 per run. Build first: dotnet build WalrusGossip.sln -c Release
set -euo pipefail
out=$(realpath -m "$1"); duration=${2:-30s}; rounds=${3:-2}
mkdir -p "$out"
bin="$(dirname "$0")/../WalrusGossip.LoadTest/bin/Release/net10.0"
key=$(head -c 32 /dev/urandom | base64)
run() { # mode round
  local mode=$1 n=$2 root cluster
  root=$(mktemp -d /tmp/walrus-auth-XXXXXX)
  if [ "$mode" = off ]; then
    dotnet "$bin/walrus-agent.dll" dev-cluster --data-root "$root" -- --Security:RequireClientAuth=false > "$out/$mode-$n.log" 2>&1 &
  else
    dotnet "$bin/walrus-agent.dll" dev-cluster --data-root "$root" -- "--Gossip:Keys:0=$key" > "$out/$mode-$n.log" 2>&1 &
  fi
  cluster=$!
  for _ in $(seq 1 120); do grep -q "dev cluster is up" "$out/$mode-$n.log" && break; sleep 1; done
  local context="$root/walrusctl.json"
  if [ "$mode" = off ]; then # no client certificate at all
    printf '{"endpoints":["127.0.0.1:7101","127.0.0.1:7102","127.0.0.1:7103"],"ca":"certs/ca.pem"}\n' > "$root/anonymous.json"
    context="$root/anonymous.json"
  fi
  dotnet "$bin/walrus-loadtest.dll" append --context "$context" --clients 1000 --payload 1280 --duration "$duration" --json "$out/$mode-$n.json" > "$out/$mode-$n.txt" 2>&1 || true
  kill -TERM $cluster; wait $cluster 2>/dev/null || true
  rm -rf "$root"
  printf '%s %s: %s\n' "$mode" "$n" "$(grep -E 'appends/s|throughput|p99' "$out/$mode-$n.txt" | tr '\n' ' ')"
}
for n in $(seq 1 "$rounds"); do run off "$n"; run on "$n"; done
