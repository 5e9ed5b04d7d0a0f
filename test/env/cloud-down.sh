#!/usr/bin/env bash
# `npm run cloud:down`: stops every process of the local cloud in CLOUD_DIR (default .local) and
# removes its state, so the next cloud:up starts clean.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
source "$here/lib.sh"

state="${CLOUD_DIR:-$root/.local}"
[[ -d "$state" ]] || exit 0

if [[ -x "$here/stop-aws.sh" ]]; then bash "$here/stop-aws.sh" "$state" || true; fi
bash "$here/stop-kube.sh" "$state"
# Anything else recorded (the operator started by the demo, for one) goes too.
for pidfile in "$state"/pids/*.pid; do
  [[ -e "$pidfile" ]] || continue
  stop_bg "$state" "$(basename "$pidfile" .pid)"
done
rm -rf "$state/etcd" "$state/pki" "$state/cloud.env" "$state/kube.env" "$state/aws.env" "$state/kubeconfig"
say "down"
