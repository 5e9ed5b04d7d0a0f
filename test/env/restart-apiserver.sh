#!/usr/bin/env bash
# Stops and starts the kube-apiserver of a local cloud (started by start-kube.sh in STATE_DIR)
# with exactly the command line it runs with, so it comes back on the same port with the same
# flags and certificates; etcd keeps running. For the reliability tests (an API server restart
# mid-run). The command line is read from /proc at stop time and kept in run/kube-apiserver.cmdline;
# each stop keeps the old log as logs/kube-apiserver.<n>.log.
#
#   bash test/env/restart-apiserver.sh STATE_DIR [restart|stop|start]   (default restart)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"

state="${1:?usage: restart-apiserver.sh STATE_DIR [restart|stop|start]}"
action="${2:-restart}"
state="$(cd "$state" && pwd)"
cmdline="$state/run/kube-apiserver.cmdline"
mkdir -p "$state/run"

stop_apiserver() {
  local pidfile="$state/pids/kube-apiserver.pid" pid n=1
  [[ -f "$pidfile" ]] || fail "no kube-apiserver recorded in $state/pids"
  pid="$(cat "$pidfile")"
  [[ -r "/proc/$pid/cmdline" ]] || fail "kube-apiserver (pid $pid) is not running"
  cp "/proc/$pid/cmdline" "$cmdline"
  stop_bg "$state" kube-apiserver
  while [[ -e "$state/logs/kube-apiserver.$n.log" ]]; do n=$((n + 1)); done
  mv "$state/logs/kube-apiserver.log" "$state/logs/kube-apiserver.$n.log"
}

start_apiserver() {
  [[ -s "$cmdline" ]] || fail "no saved command line ($cmdline): stop it with this script first"
  local -a args
  mapfile -d '' args <"$cmdline"
  local port="" pki="$state/pki" i
  for ((i = 0; i < ${#args[@]}; i++)); do
    [[ "${args[i]}" == --secure-port ]] && port="${args[i + 1]}"
  done
  start_bg "$state" kube-apiserver "${args[@]}"
  wait_for "kube-apiserver" 90 "$state/logs/kube-apiserver.log" \
    curl -fsS --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" \
    "https://127.0.0.1:$port/readyz"
}

case "$action" in
  stop) stop_apiserver ;;
  start) start_apiserver ;;
  restart) stop_apiserver; start_apiserver ;;
  *) fail "unknown action $action (restart, stop or start)" ;;
esac
say "kube-apiserver: $action done"
