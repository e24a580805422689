#!/usr/bin/env bash
# A full disk: a local 3-agent cluster on a small tmpfs (root needed for the mount). A filler file leaves less than the
# reserve free; appends must be refused with a typed error while reads are served and no agent exits; removing the
# filler must let appends resume; every acknowledged append must read back. With RESERVE 0 the agents run into ENOSPC
# itself and must reopen their store in-process instead of exiting.
#   tools/measure/full-disk.sh OUT_DIR [RESERVE_BYTES (default 64 MiB)] [TMPFS_SIZE (default 512m)]
set -euo pipefail
out=$(realpath -m "$1"); reserve=${2:-67108864}; size=${3:-512m}
mkdir -p "$out"
bin="$(dirname "$0")/../WalrusGossip.LoadTest/bin/Release/net10.0"
ctl="$(dirname "$0")/../WalrusGossip.Cli/bin/Release/net10.0/walrusctl.dll"
mnt=$(mktemp -d /tmp/walrus-full-XXXXXX)
mount -t tmpfs -o size="$size" tmpfs "$mnt"
dotnet "$bin/walrus-agent.dll" dev-cluster --data-root "$mnt/root" -- "--Storage:ReserveBytes=$reserve" --Storage:MaxSegmentBytes=8388608 --Storage:MaxEntryBytes=1048576 > "$out/cluster.log" 2>&1 &
cluster=$!
trap 'kill -TERM $cluster 2>/dev/null || true; wait $cluster 2>/dev/null || true; cp "$mnt"/root/node-*/agent.out "$out"/ 2>/dev/null || true; umount -l "$mnt"; rmdir "$mnt"' EXIT
for _ in $(seq 1 120); do grep -q "dev cluster is up" "$out/cluster.log" && break; sleep 1; done
pids() { pgrep -f -- "--data-dir $mnt/root/node-" | sort | tr '\n' ' '; }
before=$(pids)
ctlx() { dotnet "$ctl" --context "$mnt/root/walrusctl.json" "$@"; }
line=$(head -c 900 /dev/zero | tr '\0' 'x')
gen() { for i in $(seq "$1" "$2"); do echo "$i-$line"; done; }
gen 1 2000 | ctlx append --stdin > "$out/acked-1.txt"
free=$(df -B1 --output=avail "$mnt" | tail -1)
filler=$(( free - reserve / 2 ))
[ "$filler" -gt 0 ] && fallocate -l "$filler" "$mnt/filler"
echo "free after filler: $(df -B1 --output=avail "$mnt" | tail -1) bytes; reserve $reserve" | tee "$out/summary.txt"
sleep 3 # the agents read free space about once a second
set +e
gen 2001 400000 | ctlx append --stdin > "$out/acked-2.txt" 2> "$out/refused.txt"
echo "append under a full disk: exit $?, $(wc -l < "$out/acked-2.txt") more acknowledged, error: $(head -c 300 "$out/refused.txt")" | tee -a "$out/summary.txt"
set -e
ctlx read --from 1 --count 5 > "$out/read-while-full.txt" && echo "reads while full: ok ($(wc -l < "$out/read-while-full.txt") lines)" | tee -a "$out/summary.txt"
echo "agents before: $before / while full: $(pids)" | tee -a "$out/summary.txt"
rm -f "$mnt/filler"
sleep 3
for _ in $(seq 1 60); do gen 500001 500010 | ctlx append --stdin > "$out/acked-3.txt" 2>/dev/null && break; sleep 1; done
echo "after freeing: $(wc -l < "$out/acked-3.txt") appends acknowledged, first at index $(head -1 "$out/acked-3.txt")" | tee -a "$out/summary.txt"
last=$(tail -1 "$out/acked-3.txt")
ctlx read --from 1 --count $(( last + 10 )) --json > "$out/read-back.json"
python3 - "$out" <<'PY' | tee -a "$out/summary.txt"
import json, sys, glob
out = sys.argv[1]
acked = [int(l) for f in sorted(glob.glob(out + "/acked-*.txt")) for l in open(f) if l.strip()]
read = {e["index"]: e["payloadText"] for e in json.load(open(out + "/read-back.json"))}
missing = [i for i in acked if i not in read]
print(f"acknowledged {len(acked)} appends; read back {len(read)} entries; acknowledged but missing: {len(missing)}")
PY
echo "agents after: $(pids)" | tee -a "$out/summary.txt"
