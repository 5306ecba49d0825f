#!/usr/bin/env bash
# Fills one registry step by step (the benchmark's scale phase) and writes the step table under TestResults/bench/.
# Durable mode starts its own in-memory Azurite on free ports and stops it at the end. Arguments go to the phase, e.g.
#   bash loadtests/bench-scale.sh --mode memory --devices 1000000 --step 100000
#   bash loadtests/bench-scale.sh --mode durable --devices 200000 --step 50000 --minutes 8
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

[[ -d tests/node/node_modules/azurite ]] || npm ci --prefix tests/node --no-audit --no-fund
dotnet build loadtests/Registry.Bench -c Release -v quiet -nologo
exec dotnet loadtests/Registry.Bench/bin/Release/net10.0/Registry.Bench.dll scale "$@"
