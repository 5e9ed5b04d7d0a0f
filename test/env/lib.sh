# Shared helpers of the local cloud scripts. Sourced, not run.

say() { printf '[cloud] %s\n' "$*" >&2; }
fail() { say "error: $*"; exit 1; }

# Fails with WHY unless the command NAME is on PATH.
need() { command -v "$1" >/dev/null || fail "$1 is not installed; $2"; }

# Prints a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Starts a command in the background in its own process group, logging to $state/logs/NAME.log
# and recording its pid in $state/pids/NAME.pid.
start_bg() {
  local state="$1" name="$2"; shift 2
  mkdir -p "$state/logs" "$state/pids"
  setsid "$@" >"$state/logs/$name.log" 2>&1 < /dev/null &
  echo $! >"$state/pids/$name.pid"
}

# True when the process recorded as NAME is alive.
is_running() {
  local pidfile="$1/pids/$2.pid"
  [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

# Stops the process group recorded as NAME: TERM, then KILL after a grace period.
stop_bg() {
  local state="$1" name="$2" pidfile="$1/pids/$2.pid"
  [[ -f "$pidfile" ]] || return 0
  local pid; pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

# Waits until a command succeeds, or fails with a message naming what did not come up.
wait_for() {
  local what="$1" timeout_s="$2" log="$3"; shift 3
  local deadline=$((SECONDS + timeout_s))
  until "$@" >/dev/null 2>&1; do
    if (( SECONDS > deadline )); then
      [[ -f "$log" ]] && tail -n 20 "$log" >&2
      fail "$what did not become ready within ${timeout_s}s (log: $log)"
    fi
    sleep 0.3
  done
}
