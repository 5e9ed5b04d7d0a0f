#!/usr/bin/env bash
# Stops what test/env/start-aws.sh STATE_DIR started: the launcher (moto) and the upstream,
# each with its whole process group, and removes their pid, port and env files. Logs stay.
# Only processes recorded in STATE_DIR/pids whose command line is still ours are signalled.
#
#   bash test/env/stop-aws.sh STATE_DIR
set -euo pipefail

readonly GRACE_S=10

say() { printf '[aws] %s\n' "$*" >&2; }

[[ $# -eq 1 && -n "$1" ]] || { say "usage: stop-aws.sh STATE_DIR"; exit 1; }
state="$1"
[[ -d "$state" ]] || exit 0

# Sends SIGNAL to PID's process group when PID leads one (start-aws.sh makes each process a
# session and group leader, so that children go too), else to PID and its direct children.
signal_tree() {
  local pid="$1" signal="$2"
  if [[ "$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')" == "$pid" ]]; then
    kill "-$signal" -- "-$pid" 2>/dev/null || true
  else
    pkill "-$signal" -P "$pid" 2>/dev/null || true
    kill "-$signal" "$pid" 2>/dev/null || true
  fi
}

# True while PID runs; a zombie (exited, waiting for init to reap it) does not count.
running() {
  local status
  status="$(ps -o stat= -p "$1" 2>/dev/null)" || return 1
  [[ -n "$status" && "$status" != Z* ]]
}

# Waits up to GRACE_S for PID to exit; false if it is still running.
wait_exit() {
  local pid="$1" waited
  for ((waited = 0; waited < GRACE_S * 10; waited++)); do
    running "$pid" || return 0
    sleep 0.1
  done
  return 1
}

# Stops the process recorded as NAME, if its command line still contains MARKER.
stop_one() {
  local name="$1" marker="$2" pidfile="$state/pids/$1.pid" pid
  [[ -f "$pidfile" ]] || return 0
  pid="$(cat "$pidfile")"
  if [[ "$pid" =~ ^[0-9]+$ && -r "/proc/$pid/cmdline" ]] &&
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$marker"; then
    signal_tree "$pid" TERM
    if ! wait_exit "$pid"; then
      say "$name (pid $pid) still running ${GRACE_S}s after SIGTERM; sending SIGKILL"
      signal_tree "$pid" KILL
      wait_exit "$pid" || say "$name (pid $pid) survived SIGKILL"
    fi
    # Whatever else is left in its group (the leader is gone) goes too.
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile" "$state/run/$name.port" "$state/run/$name.port.tmp"
}

stop_one upstream upstream.mjs
stop_one moto launcher.py
rm -f "$state/aws.env" "$state/aws.env.tmp"
