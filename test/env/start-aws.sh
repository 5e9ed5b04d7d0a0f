#!/usr/bin/env bash
# Starts the local AWS (moto server behind our launcher, test/env/aws/launcher.py) and the
# stand-in third-party API (test/env/aws/upstream.mjs) in the background, and writes
# STATE_DIR/aws.env with the variables clients need.
#
#   bash test/env/start-aws.sh STATE_DIR
#
# Layout under STATE_DIR: logs/moto.log, logs/upstream.log, pids/moto.pid, pids/upstream.pid,
# run/*.port, aws.env. Stop with test/env/stop-aws.sh STATE_DIR. Running it again while both
# processes are alive reuses them.
#
# The Python venv with the pinned requirements is built once and cached in
# ${DOWNLOADER_CACHE:-$HOME/.cache/downloader-operator}/venv-moto-5.2.5 (rebuilt when
# requirements.txt changes), under flock so that parallel runs do not build it twice.
#
# Ports: both servers bind port 0 on 127.0.0.1 themselves and report the port they got, which
# leaves no window for another process to take a port picked in advance. LOCAL_AWS_PORT and
# UPSTREAM_PORT pin them instead (for a demo). UPSTREAM_TOKEN sets the upstream's bearer token.
#
# LOCAL_AWS_ENFORCE_IAM=1 starts moto with IAM enforced (test/env/aws/moto_patches/
# iam_enforcement.py): every request is authorized against the caller's IAM policies, and
# aws.env carries the key of an admin user (local-admin) instead of testing/testing, plus
# LOCAL_AWS_ENFORCE_IAM=1.
set -euo pipefail

readonly MOTO_VENV_NAME="venv-moto-5.2.5"
readonly START_TIMEOUT_S="${LOCAL_AWS_START_TIMEOUT:-120}"
readonly VENV_LOCK_TIMEOUT_S=900

say() { printf '[aws] %s\n' "$*" >&2; }
fail() { say "error: $*"; exit 1; }

[[ $# -eq 1 && -n "$1" ]] || fail "usage: start-aws.sh STATE_DIR"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mkdir -p "$1"
state="$(cd "$1" && pwd)"
cache="${DOWNLOADER_CACHE:-$HOME/.cache/downloader-operator}"
venv="$cache/$MOTO_VENV_NAME"
requirements="$here/aws/requirements.txt"
token="${UPSTREAM_TOKEN:-local-test-token}"
enforce_iam="${LOCAL_AWS_ENFORCE_IAM:-0}"

# True when pids/NAME.pid names a live process whose command line contains MARKER.
alive() {
  local pidfile="$state/pids/$1.pid" marker="$2" pid
  [[ -f "$pidfile" ]] || return 1
  pid="$(cat "$pidfile")"
  [[ -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$marker"
}

# Whether the process started as NAME still runs (not a zombie). During start-up its command
# line may not show the marker yet: the forked shell has not exec'd the program on a busy machine.
running() {
  local pid state_field
  pid="$(cat "$state/pids/$1.pid" 2>/dev/null)" || return 1
  state_field="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" || return 1
  [[ -n "$state_field" && "$state_field" != Z ]]
}

# Builds the venv unless it exists for exactly this requirements.txt.
ensure_venv() {
  local wanted
  wanted="$(sha256sum "$requirements" | cut -d' ' -f1)"
  mkdir -p "$cache"
  exec 9>"$cache/$MOTO_VENV_NAME.lock"
  flock -w "$VENV_LOCK_TIMEOUT_S" 9 || fail "could not lock $cache/$MOTO_VENV_NAME.lock"
  if [[ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$wanted" ]]; then
    say "building $venv (once; takes a minute)"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" \
      >"$state/logs/pip.log" 2>&1 || { tail -n 20 "$state/logs/pip.log" >&2; fail "pip install failed (log: $state/logs/pip.log)"; }
    echo "$wanted" >"$venv/.requirements.sha256"
  fi
  exec 9>&-
}

# Starts a command in its own session (so stop-aws.sh can end its whole process group).
start_bg() {
  local name="$1"; shift
  rm -f "$state/run/$name.port"
  setsid "$@" >"$state/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$state/pids/$name.pid"
}

# Waits for run/NAME.port and a 200 from PATH on that port; fails fast if the process dies.
wait_ready() {
  local name="$1" path="$2" deadline=$((SECONDS + START_TIMEOUT_S)) port
  while :; do
    running "$name" || {
      tail -n 20 "$state/logs/$name.log" >&2
      fail "$name exited during start-up (log: $state/logs/$name.log)"
    }
    if [[ -s "$state/run/$name.port" ]]; then
      port="$(cat "$state/run/$name.port")"
      if python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
        "http://127.0.0.1:$port$path" 2>/dev/null; then
        echo "$port"
        return 0
      fi
    fi
    ((SECONDS < deadline)) || {
      tail -n 20 "$state/logs/$name.log" >&2
      fail "$name did not answer on http://127.0.0.1${port:+:$port}$path within ${START_TIMEOUT_S}s (log: $state/logs/$name.log)"
    }
    sleep 0.3
  done
}

mkdir -p "$state/logs" "$state/pids" "$state/run"

# True when aws.env was written for the enforcement asked now.
same_enforcement() {
  local written=0
  grep -qx 'export LOCAL_AWS_ENFORCE_IAM=1' "$state/aws.env" 2>/dev/null && written=1
  [[ "$written" == "$([[ "$enforce_iam" == 1 ]] && echo 1 || echo 0)" ]]
}

if alive moto launcher.py && alive upstream upstream.mjs && [[ -f "$state/aws.env" ]] &&
  same_enforcement; then
  say "already running (state: $state)"
  exit 0
fi
bash "$here/stop-aws.sh" "$state"

command -v node >/dev/null || fail "node is not on PATH"
command -v python3 >/dev/null || fail "python3 is not installed; Python 3.11 or newer is needed to run moto, the local AWS"
command -v flock >/dev/null || fail "flock (util-linux) is not installed"
ensure_venv

enforce_args=()
rm -f "$state/run/admin.key"
if [[ "$enforce_iam" == 1 ]]; then
  enforce_args=(--enforce-iam --admin-key-file "$state/run/admin.key")
fi
start_bg moto "$venv/bin/python" "$here/aws/launcher.py" --host 127.0.0.1 \
  --port "${LOCAL_AWS_PORT:-0}" --port-file "$state/run/moto.port" "${enforce_args[@]}"
UPSTREAM_TOKEN="$token" start_bg upstream node "$here/aws/upstream.mjs" \
  --port "${UPSTREAM_PORT:-0}" --port-file "$state/run/upstream.port"

upstream_port="$(wait_ready upstream /_health)"
moto_port="$(wait_ready moto /_launcher/health)"

access_key_id=testing
secret_access_key=testing
if [[ "$enforce_iam" == 1 ]]; then
  # The launcher writes the admin's key before it reports its port.
  read -r access_key_id secret_access_key <"$state/run/admin.key" ||
    fail "the launcher wrote no admin key ($state/run/admin.key)"
fi

cat >"$state/aws.env.tmp" <<EOF
export AWS_ENDPOINT_URL=http://127.0.0.1:$moto_port
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=$access_key_id
export AWS_SECRET_ACCESS_KEY=$secret_access_key
export APIGW_INVOKE_ENDPOINT_TEMPLATE=127.0.0.1:$moto_port/restapis/{restApiId}
export APIGW_STAGE_URL_TEMPLATE=http://127.0.0.1:$moto_port/restapis/{restApiId}/{stage}/_user_request_
export UPSTREAM_URL=http://127.0.0.1:$upstream_port
export UPSTREAM_TOKEN=$token
EOF
if [[ "$enforce_iam" == 1 ]]; then
  echo "export LOCAL_AWS_ENFORCE_IAM=1" >>"$state/aws.env.tmp"
fi
mv "$state/aws.env.tmp" "$state/aws.env"
say "local AWS on http://127.0.0.1:$moto_port, upstream on http://127.0.0.1:$upstream_port (env: $state/aws.env)"
