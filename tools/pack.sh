#!/usr/bin/env bash
# Builds the three NuGet packages into artifacts/packages (or $1):
#   WalrusGossip.Client      the client SDK (carries WalrusGossip.Transport and WalrusGossip.Protocol; no Raft)
#   WalrusGossip.Cli         walrusctl, a .NET tool
#   WalrusGossip.LoadTest    walrus-loadtest, a .NET tool
# The version is VersionPrefix in Directory.Build.props; extra arguments go to dotnet pack (e.g. -p:VersionSuffix=rc.1).
# Then:  dotnet tool install --global --add-source artifacts/packages WalrusGossip.Cli
#        dotnet add package WalrusGossip.Client --source artifacts/packages   (or a nuget.config listing the folder)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-artifacts/packages}
[ $# -gt 0 ] && shift
rm -f "$out"/WalrusGossip.*.nupkg
dotnet pack WalrusGossip.sln -c Release -o "$out" "$@"

# Exactly the three packages, and the SDK neither depends on nor carries the Raft library.
count=$(find "$out" -maxdepth 1 -name 'WalrusGossip.*.nupkg' | wc -l)
if [ "$count" -ne 3 ]; then
  echo "pack.sh: expected 3 packages in $out, found $count:" >&2; ls "$out" >&2; exit 1
fi
client=$(find "$out" -maxdepth 1 -name 'WalrusGossip.Client.*.nupkg' | head -1)
if unzip -l "$client" | grep -q 'WalrusGossip\.Raft' || unzip -p "$client" '*.nuspec' | grep -q 'WalrusGossip\.Raft'; then
  echo "pack.sh: $client depends on or carries WalrusGossip.Raft" >&2; exit 1
fi
for dll in $(unzip -Z1 "$client" 'lib/*.dll'); do
  if unzip -p "$client" "$dll" | grep -aq 'WalrusGossip\.Raft'; then
    echo "pack.sh: $client: $dll references WalrusGossip.Raft" >&2; exit 1
  fi
done
ls -1 "$out"/WalrusGossip.*.nupkg
