#!/usr/bin/env bash
# `npm run cloud:up`: the local cloud the tests and the demo run against. Starts etcd and
# kube-apiserver (built once from the Go module proxy), the local AWS (moto server behind our
# launcher) and the stand-in third-party API, installs the CRD, and writes CLOUD_DIR/cloud.env.
#
# CLOUD_DIR (default .local) holds everything of one cloud, so clouds in different directories
# run side by side on their own free ports. Running it again while the cloud is up does nothing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
source "$here/lib.sh"

state="${CLOUD_DIR:-$root/.local}"
mkdir -p "$state"
state="$(cd "$state" && pwd)"

if [[ -f "$state/cloud.env" ]] && is_running "$state" kube-apiserver; then
  say "already up; environment in $state/cloud.env"
  exit 0
fi

# Whatever fails below, leave no process behind.
trap 'status=$?; if (( status != 0 )); then bash "$here/cloud-down.sh" >/dev/null 2>&1 || true; fi' EXIT

rm -f "$state/cloud.env"
bash "$here/start-kube.sh" "$state"
source "$state/kube.env"

if [[ -x "$here/start-aws.sh" ]]; then
  bash "$here/start-aws.sh" "$state"
fi

say "installing the Downloader CRD"
kubectl apply --server-side -f "$root/crds/" >/dev/null
kubectl wait --for condition=Established --timeout 60s crd/downloaders.downloader.dev >/dev/null

{
  echo "# The local cloud's environment: source it in any shell."
  echo "export CLOUD_DIR=\"$state\""
  cat "$state/kube.env"
  [[ -f "$state/aws.env" ]] && cat "$state/aws.env"
} >"$state/cloud.env"
say "up; run: source $state/cloud.env"
