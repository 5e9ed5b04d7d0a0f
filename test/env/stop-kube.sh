#!/usr/bin/env bash
# Stops what start-kube.sh started in STATE_DIR.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"
state="${1:?usage: stop-kube.sh STATE_DIR}"
stop_bg "$state" kube-apiserver
stop_bg "$state" etcd
rm -f "$state/kube.env"
