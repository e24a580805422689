#!/usr/bin/env bash
# Storage benchmark set for issue 2: each round runs the fio baseline, then walrusctl bench store, back to back on
# the same disk, so results are read as ratios to fio from the same sitting. Needs fio (apt-get install -y fio).
# Usage: docs/storage-bench.sh [rounds] [scratch-dir]   (run from the repository root)
set -euo pipefail
rounds=${1:-3}
T=${2:-$(mktemp -d)}
dotnet build tools/WalrusGossip.Cli -c Release >/dev/null
W="dotnet tools/WalrusGossip.Cli/bin/Release/net10.0/walrusctl.dll"
for r in $(seq 1 "$rounds"); do
  echo "== round $r $(date +%T) load $(cut -d' ' -f1 /proc/loadavg)"
  rm -f "$T/fio.dat"
  fio --name=w --rw=write --bs=4k --size=64M --ioengine=sync --fdatasync=1 --filename="$T/fio.dat" --output-format=json 2>/dev/null |
    python3 -c "import json,sys;j=json.load(sys.stdin)['jobs'][0];print('fio fdatasync p50 us',round(j['sync']['lat_ns']['percentile']['50.000000']/1000,1),'iops',round(j['write']['iops']))"
  rm -f "$T/fio.dat"
  for e in psync uring; do $W bench store --records 20000 --payload 1024 --writers 1 --fsync always --engine $e --json; done
  for e in psync uring; do $W bench store --records 300000 --payload 1024 --writers 64 --fsync always --engine $e --json; done
  fio --name=seq --rw=write --bs=1M --size=1G --ioengine=sync --end_fsync=1 --filename="$T/seq.dat" --output-format=json 2>/dev/null |
    python3 -c "import json,sys;print('fio sequential buffered MB/s',round(json.load(sys.stdin)['jobs'][0]['write']['bw_bytes']/1e6))"
  rm -f "$T/seq.dat"
  for e in psync uring; do $W bench store --records 2000000 --payload 1024 --writers 1 --fsync none --engine $e --json; done
done
rm -rf "$T/big"
$W bench store --data-dir "$T/big" --records 1000000 --payload 1024 --writers 4 --fsync none --json >/dev/null
$W bench reopen --data-dir "$T/big" --json
rm -rf "$T/big"
