#!/usr/bin/env bash
# The topology of docker/compose.yaml as plain processes on this machine, for where no container engine runs:
# Azurite + three silos + two gateways, the same image entry command (dotnet Registry.Host.dll) and the same
# environment variables (docker/cluster.env plus each service's own), on loopback with a port of their own each.
#
#   docker/run-cluster.sh start    build if needed, check every port the cluster needs is free (refusing, with nothing
#                                  started, when one is not), start everything, wait (bounded) until each answers its
#                                  health check
#   docker/run-cluster.sh status   which processes run; exit code 0 when all six do, 1 when only some do, 3 when none
#   docker/run-cluster.sh stop     SIGTERM each by its recorded PID, SIGKILL what is still there after 20 s
#
# REGISTRY_CLUSTER_DIR (default registry-cluster beside docker/, i.e. at the repository's root, whatever the current
# directory) holds the data folders, logs and PID files; REGISTRY_PORT_OFFSET (default 0) shifts every port, to run
# next to another copy: steps of 100 keep copies apart (1000 and 20000 would not: see offset_clashes). Logs are
# appended to (a marker line per start) and, like the generated owner connection string in
# <dir>/owner-connection-string, readable only by their owner.
set -euo pipefail
# Logs and the owner connection string hold keys: nothing the script creates is readable by others.
umask 077
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Found from the script's own place, so status and stop see the cluster start made from any directory; an explicit
# relative REGISTRY_CLUSTER_DIR is the caller's, made absolute once (the hosts get it as their data folders' parent).
dir=${REGISTRY_CLUSTER_DIR:-$root/registry-cluster}
[[ $dir == /* ]] || dir=$PWD/$dir
offset=${REGISTRY_PORT_OFFSET:-0}
# Decimal whatever its leading zeros: bash arithmetic reads 0300 as octal (192) and refuses 08.
if ! [[ $offset =~ ^[0-9]{1,5}$ ]] || ((10#$offset > 65535 - 30002)); then
  echo "REGISTRY_PORT_OFFSET=$offset: not an offset (0 to $((65535 - 30002)), steps of 100 keep copies apart)" >&2
  exit 2
fi
offset=$((10#$offset))
host_dll="$root/src/Registry.Host/bin/Release/net10.0/Registry.Host.dll"
azurite_js="$root/tests/node/node_modules/azurite/dist/src/azurite.js"
start_timeout=${REGISTRY_START_TIMEOUT:-120}

port() { echo $(($1 + offset)); }
blob=$(port 10000) queue=$(port 10001) table=$(port 10002)
storage="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:$blob/devstoreaccount1;QueueEndpoint=http://127.0.0.1:$queue/devstoreaccount1;TableEndpoint=http://127.0.0.1:$table/devstoreaccount1;"

# name  role     environment of its own (what compose.yaml sets, with loopback ports instead of container addresses).
# Every process has its management port (Observability:Port: /metrics for Prometheus), 9464 (the Prometheus exporter's
# customary port) to 9468, the host ports compose.yaml publishes them on.
services=(
  "silo1 silo Registry__SiloPort=$(port 11111) Registry__GatewayPort=$(port 30000) Registry__HealthPort=$(port 8080) Registry__Observability__Port=$(port 9464)"
  "silo2 silo Registry__SiloPort=$(port 11112) Registry__GatewayPort=$(port 30001) Registry__HealthPort=$(port 8081) Registry__Observability__Port=$(port 9465)"
  "silo3 silo Registry__SiloPort=$(port 11113) Registry__GatewayPort=$(port 30002) Registry__HealthPort=$(port 8082) Registry__Observability__Port=$(port 9466)"
  "gateway1 gateway Registry__HttpsPort=$(port 8443) Registry__MqttPort=$(port 8883) Registry__Observability__Port=$(port 9467)"
  "gateway2 gateway Registry__HttpsPort=$(port 9443) Registry__MqttPort=$(port 9883) Registry__Observability__Port=$(port 9468)"
)

# Every process of the cluster, in start order (stop goes the other way).
names=(azurite silo1 silo2 silo3 gateway1 gateway2)

# Alive and not a zombie: a process that died but was not yet reaped still answers kill -0.
alive() { kill -0 "$1" 2>/dev/null && [[ $(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) != Z ]]; }

# The program each of ours runs: a PID file that outlived its process may hold a number since given to another program,
# which status must not count and stop must not kill.
program() { if [[ $1 == azurite ]]; then echo azurite.js; else echo Registry.Host.dll; fi; }
ours() {
  local cmdline
  alive "$2" && cmdline=$(tr '\0' ' ' <"/proc/$2/cmdline" 2>/dev/null) && [[ $cmdline == *"$(program "$1")"* ]]
}

running() { [[ -f "$dir/$1.pid" ]] && ours "$1" "$(cat "$dir/$1.pid")"; }

# Fails the start naming $1 and the end of its log.
failed() {
  echo "$1: $2; the end of $dir/$1.log:" >&2
  tail -n 20 "$dir/$1.log" >&2
  exit 1
}

# Waits until "$@" succeeds, at most $start_timeout seconds; fails naming $name and its log otherwise.
wait_for() {
  local name=$1 deadline=$((SECONDS + start_timeout))
  shift
  until "$@" >/dev/null 2>&1; do
    # Alive is enough here: just started, it may not have become its program yet (setsid, then exec).
    alive "$(cat "$dir/$name.pid")" || failed "$name" "exited before it answered its health check"
    if ((SECONDS >= deadline)); then
      failed "$name" "did not become healthy within ${start_timeout} s"
    fi
    sleep 1 # the pace of health probes
  done
}

# After a health check passed: the answer must have come from the process started here, not from another one on the
# same port (another cluster, a copy left over) while ours died of EADDRINUSE.
owned() {
  local name=$1 port=$2 pid
  pid=$(cat "$dir/$name.pid")
  running "$name" || failed "$name" "exited (pid $pid), though something answered its health check on port $port"
  if command -v ss >/dev/null && ! ss -Hltnp "sport = :$port" 2>/dev/null | grep -q "pid=$pid,"; then
    failed "$name" "port $port answers, but not from pid $pid (another process listens there)"
  fi
}

# "name port" for every port the processes not running yet need, at this offset.
needed_ports() {
  local entry name role env p
  if ! running azurite; then
    for p in "$blob" "$queue" "$table"; do echo "azurite $p"; done
  fi
  for entry in "${services[@]}"; do
    read -r name role env <<<"$entry"
    if ! running "$name"; then
      for p in $(grep -o '=[0-9]*' <<<"$env" | tr -d =); do echo "$name $p"; done
    fi
  done
}

# The TCP ports anyone listens on, on any address, one a line.
listening_ports() {
  if command -v ss >/dev/null; then
    ss -Hltn | awk '{ n = split($4, a, ":"); print a[n] }' | sort -u
  else
    local name p
    while read -r name p; do if tcp_open "$p"; then echo "$p"; fi; done < <(needed_ports)
  fi
}

# Who listens on $1, when ss may say: " (pid N, program)".
listener() {
  ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*users:(("\([^"]*\)",pid=\([0-9]*\).*/ (pid \2, \1)/p' | head -n 1 || true
}

# Offsets at which a copy would put one of its ports on another port of a copy at offset 0 (the differences between
# two ports of the topology): 1000 maps gateway1's 8443/8883 onto gateway2's 9443/9883, 20000 the silos' gateway ports
# 30000-30002 onto Azurite's 10000-10002. Every other multiple of 100 (up to 35500) keeps the two copies apart.
offset_clashes() {
  local -a base=(10000 10001 10002)
  local entry name role env a b
  for entry in "${services[@]}"; do
    read -r name role env <<<"$entry"
    for a in $(grep -o '=[0-9]*' <<<"$env" | tr -d =); do base+=($((a - offset))); done
  done
  for a in "${base[@]}"; do for b in "${base[@]}"; do if ((a > b)); then echo $((a - b)); fi; done; done | sort -un
}

# Refuses the start, with nothing started, when any port the cluster needs is taken: starting what can start and
# refusing the rest would leave half a cluster. Names each taken port and an offset whose ports are all free now and
# would not collide with a default cluster (offset 0) either.
ports_free() {
  local -A open=() clash=()
  local name p candidate taken=()
  while read -r p; do open[$p]=1; done < <(listening_ports)
  while read -r name p; do
    if [[ -n ${open[$p]:-} ]]; then taken+=("  $name: port $p$(listener "$p")"); fi
  done < <(needed_ports)
  if ((${#taken[@]} == 0)); then return 0; fi
  local up=()
  for name in "${names[@]}"; do if running "$name"; then up+=("$name"); fi; done
  if ((${#up[@]} > 0)); then
    # Another offset would move only what is not running, away from the rest of its own cluster.
    {
      echo "run-cluster.sh: not starting: ports this cluster needs (REGISTRY_PORT_OFFSET=$offset) are in use by other processes:"
      printf '%s\n' "${taken[@]}"
      echo "Nothing was started. Part of this cluster runs (${up[*]}), so another offset would not help: free those ports, or stop it (docker/run-cluster.sh stop) and start it again at another offset."
    } >&2
    exit 1
  fi
  while read -r p; do clash[$p]=1; done < <(offset_clashes)
  local suggestion=""
  for ((candidate = 100; candidate <= 65535 - 30002; candidate += 100)); do
    if [[ $candidate == "$offset" || -n ${clash[$candidate]:-} ]]; then continue; fi
    suggestion=$candidate
    while read -r name p; do
      if [[ -n ${open[$((p - offset + candidate))]:-} ]]; then suggestion=""; break; fi
    done < <(needed_ports)
    if [[ -n $suggestion ]]; then break; fi
  done
  {
    echo "run-cluster.sh: not starting: ports this cluster needs (REGISTRY_PORT_OFFSET=$offset) are in use by other processes (another cluster?):"
    printf '%s\n' "${taken[@]}"
    if [[ -n $suggestion ]]; then
      echo "Nothing was started. REGISTRY_PORT_OFFSET=$suggestion has every port free. Offsets in steps of 100 keep copies apart, except 1000 and 20000 apart (gateway1's ports are gateway2's 1000 below, the silos' gateway ports Azurite's 20000 above)."
    else
      echo "Nothing was started, and no offset in steps of 100 has every port free."
    fi
  } >&2
  exit 1
}

# Appends: a restart keeps the log of the process that crashed (and the generated owner key), after a marker line.
log_start() { echo "=== $1 started by run-cluster.sh at $(date -u +%Y-%m-%dT%H:%M:%SZ) ===" >>"$dir/$1.log"; }

tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
  # Before anything is created or started: a refused start leaves nothing behind.
  ports_free
  mkdir -p "$dir"
  # Also what an earlier version of this script left readable.
  chmod 700 "$dir"
  chmod 600 "$dir"/*.log 2>/dev/null || true
  if [[ ! -f "$host_dll" ]]; then
    dotnet build "$root/Registry.Orleans.sln" -c Release
  fi
  if [[ ! -f "$azurite_js" ]]; then
    npm ci --prefix "$root/tests/node" --no-audit --no-fund
  fi
  if ! running azurite; then
    mkdir -p "$dir/azurite"
    log_start azurite
    setsid node "$azurite_js" --blobHost 127.0.0.1 --blobPort "$blob" --queueHost 127.0.0.1 --queuePort "$queue" \
      --tableHost 127.0.0.1 --tablePort "$table" --location "$dir/azurite" --skipApiVersionCheck --disableTelemetry --silent \
      >>"$dir/azurite.log" 2>&1 &
    echo $! >"$dir/azurite.pid"
  fi
  wait_for azurite tcp_open "$table"
  owned azurite "$table"
  echo "azurite  table http://127.0.0.1:$table (pid $(cat "$dir/azurite.pid"))"

  local entry name role env health port
  for entry in "${services[@]}"; do
    read -r name role env <<<"$entry"
    if running "$name"; then
      continue
    fi
    mkdir -p "$dir/$name"
    log_start "$name"
    # The compose file's environment: cluster.env, the storage, the role, the service's own; then the image's ENV.
    (
      set -a
      # shellcheck source=cluster.env
      source "$root/docker/cluster.env"
      set +a
      export Registry__StorageConnectionString="$storage" Registry__Role="$role" Registry__DataFolder="$dir/$name" \
        Registry__ListenAddress=127.0.0.1
      for kv in $env; do export "${kv?}"; done
      exec setsid dotnet "$host_dll"
    ) >>"$dir/$name.log" 2>&1 &
    echo $! >"$dir/$name.pid"
  done
  for entry in "${services[@]}"; do
    read -r name role env <<<"$entry"
    if [[ $role == silo ]]; then
      port=$(sed -n 's/.*Registry__HealthPort=\([0-9]*\).*/\1/p' <<<"$env")
      health="http://127.0.0.1:$port/healthz"
      wait_for "$name" curl -fsS "$health"
    else
      port=$(sed -n 's/.*Registry__HttpsPort=\([0-9]*\).*/\1/p' <<<"$env")
      health="https://127.0.0.1:$port/healthz"
      wait_for "$name" curl -fsS --cacert "$dir/$name/certs/ca.pem" "$health"
    fi
    owned "$name" "$port"
    echo "$name $role healthy: $health (pid $(cat "$dir/$name.pid"))"
  done
  # The cluster logs its generated owner key once; kept in a file of its own, so no log rotation or deletion loses it.
  local owner owner_file="$dir/owner-connection-string"
  if [[ ! -s $owner_file ]]; then
    owner=$(grep -ho 'HostName=[^ ]*SharedAccessKey=[^ ]*' "$dir"/gateway*.log | head -n 1 || true)
    if [[ -n $owner ]]; then echo "$owner" >"$owner_file"; fi
  fi
  if [[ -s $owner_file ]]; then
    echo "owner connection string: $(cat "$owner_file") (kept in $owner_file)"
  else
    echo "owner connection string: not generated by this cluster (pinned, or proposed from an access-policies.json)"
  fi
}

stop() {
  local i name pid deadline stopped=0
  # Gateways first, then silos, then storage: nothing is left waiting on what already stopped.
  for ((i = ${#names[@]} - 1; i >= 0; i--)); do
    name=${names[i]}
    if running "$name"; then
      pid=$(cat "$dir/$name.pid")
      kill -TERM "$pid"
      deadline=$((SECONDS + 20))
      while alive "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
      if alive "$pid"; then
        echo "$name (pid $pid) did not stop within 20 s: SIGKILL" >&2
        kill -KILL "$pid"
      fi
      echo "$name stopped (pid $pid)"
      stopped=$((stopped + 1))
    fi
    rm -f "$dir/$name.pid"
  done
  # Said, not silent: a stop that found nothing names where it looked.
  if ((stopped == 0)); then echo "nothing of the cluster in $dir was running"; fi
}

# Exit code as an init script's status (LSB): 0 when all six run, 3 when none does; 1 when only some do, since a
# cluster missing a process is not the one started (a silo down, a gateway down) and a check should fail on it.
status() {
  local name count=0
  echo "cluster in $dir (REGISTRY_PORT_OFFSET=$offset)"
  for name in "${names[@]}"; do
    if running "$name"; then
      echo "$name running (pid $(cat "$dir/$name.pid"))"
      count=$((count + 1))
    else
      echo "$name stopped"
    fi
  done
  if ((count == 6)); then return 0; fi
  if ((count == 0)); then
    echo "nothing of the cluster runs" >&2
    return 3
  fi
  echo "only $count of its 6 processes run" >&2
  return 1
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|status|stop" >&2; exit 2 ;;
esac
