#!/usr/bin/env bash
# Measures registry GET and create throughput against a real Azurite, with the ceilings (no-op Kestrel endpoint,
# raw Azure Table insert) measured in the same process and run. Extra arguments go to the benchmark
# (--rounds N --seconds S --concurrency C --devices D --set Registry:DeviceStorage=Table).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

[[ -d tests/node/node_modules/azurite ]] || npm ci --prefix tests/node --no-audit --no-fund
dotnet build loadtests/Registry.Bench -c Release -v quiet -nologo
for arg in "$@"; do
  # The benchmark's own help, without starting Azurite for it.
  [[ "$arg" == --help || "$arg" == -h ]] && exec dotnet loadtests/Registry.Bench/bin/Release/net10.0/Registry.Bench.dll --help
done

read -r blob queue table < <(node -e '
const net = require("net");
const take = () => new Promise(r => { const s = net.createServer().listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => r(p)); }); });
Promise.all([take(), take(), take()]).then(p => console.log(p.join(" ")));')

node tests/node/node_modules/azurite/dist/src/azurite.js --silent --inMemoryPersistence --skipApiVersionCheck \
  --disableTelemetry --blobHost 127.0.0.1 --blobPort "$blob" --queueHost 127.0.0.1 --queuePort "$queue" \
  --tableHost 127.0.0.1 --tablePort "$table" &
azurite=$!
trap 'kill "$azurite" 2>/dev/null; wait "$azurite" 2>/dev/null || true' EXIT

for _ in $(seq 1 150); do
  (exec 3<>"/dev/tcp/127.0.0.1/$table") 2>/dev/null && break
  sleep 0.2
done

account='devstoreaccount1'
key='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
storage="DefaultEndpointsProtocol=http;AccountName=$account;AccountKey=$key;BlobEndpoint=http://127.0.0.1:$blob/$account;QueueEndpoint=http://127.0.0.1:$queue/$account;TableEndpoint=http://127.0.0.1:$table/$account;"

# SIGTERM or Ctrl+C: passed on to the benchmark, which ends after the phase under way and reports the rounds done; the
# script waits for it, then stops Azurite. Before, the script exited at once and the benchmark ran on alone against the
# stopped Azurite until it crashed (a review, 2026-12-07).
dotnet loadtests/Registry.Bench/bin/Release/net10.0/Registry.Bench.dll --storage "$storage" --azurite-pid "$azurite" "$@" &
bench=$!
trap 'kill -TERM "$bench" 2>/dev/null || true' TERM INT
status=0
wait "$bench" || status=$?
while kill -0 "$bench" 2>/dev/null; do
  # Woken by a signal: the benchmark is still ending.
  status=0
  wait "$bench" || status=$?
done
exit "$status"
