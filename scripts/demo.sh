#!/usr/bin/env bash
# `npm run demo`: the operator end to end on the local cloud. Brings the cloud up, starts the
# operator, applies the article's EVE Online Downloader against the stand-in API, waits until it
# is Ready, runs it once at once (run-now), does the same for the HttpTask example (no API
# Gateway: an EventBridge connection holds the token), lets the schedule run it every minute, and shows
# what a user wants to see: status, AWS resources, rows in the table. Runs until Ctrl-C, or for
# --duration SECONDS, then deletes the Downloader and stops everything.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
duration=0
while (( $# > 0 )); do
  case "$1" in
    --duration) duration="${2:?--duration takes seconds}"; shift 2 ;;
    *) echo "usage: npm run demo [-- --duration SECONDS]" >&2; exit 2 ;;
  esac
done

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
export CLOUD_DIR="${CLOUD_DIR:-$root/.local}"

cleanup() {
  trap - EXIT INT TERM
  step "cleaning up"
  if [[ -n "${KUBECONFIG:-}" ]]; then
    kubectl delete -n demo downloader eve-player-count status-direct --wait=true --timeout=60s \
      >/dev/null 2>&1 || true
  fi
  bash test/env/cloud-down.sh
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "starting the local cloud (Kubernetes, local AWS, stand-in EVE API)"
bash test/env/cloud-up.sh
source "$CLOUD_DIR/cloud.env"

step "starting the operator (log: $CLOUD_DIR/logs/operator.log)"
mkdir -p "$CLOUD_DIR/logs" "$CLOUD_DIR/pids"
setsid npx tsx src/main.ts --execution-poll-interval 10 --metrics-address 127.0.0.1:0 \
  >"$CLOUD_DIR/logs/operator.log" 2>&1 </dev/null &
echo $! >"$CLOUD_DIR/pids/operator.pid"

step "applying examples/eve-player-count.yaml, pointed at the stand-in API $UPSTREAM_URL"
kubectl create namespace demo --dry-run=client -o yaml | kubectl apply -f - >/dev/null
sed "s#url: https://esi.evetech.net#url: $UPSTREAM_URL#" examples/eve-player-count.yaml |
  kubectl apply -n demo -f -

step "waiting until it is Ready"
kubectl wait -n demo --for=condition=Ready downloader/eve-player-count --timeout=120s
kubectl get -n demo downloaders -o wide

step "running it now (annotation downloader.dev/run-now)"
kubectl annotate -n demo downloader/eve-player-count --overwrite "downloader.dev/run-now=$(date +%s)"
for _ in $(seq 1 60); do
  status="$(kubectl get -n demo dl eve-player-count -o jsonpath='{.status.lastExecution.status}')"
  [[ "$status" == SUCCEEDED || "$status" == FAILED ]] && break
  sleep 2
done
echo "last execution: ${status:-none yet}"

step "the Downloader's status"
kubectl get -n demo dl eve-player-count -o jsonpath='{.status}' | python3 -m json.tool
step "events"
kubectl get events -n demo --field-selector involvedObject.name=eve-player-count \
  -o custom-columns=TYPE:.type,REASON:.reason,MESSAGE:.message

step "the AWS resources the operator made, and the rows in the table"
npx tsx scripts/show-aws.ts demo eve-player-count

step "the same source without API Gateway: examples/http-task.yaml (transport HttpTask)"
# Pointed at the stand-in API's bearer-token endpoint, with its token in the Secret.
sed -e "s#url: https://api.example.com#url: $UPSTREAM_URL#" \
  -e "s#token: replace-me#token: ${UPSTREAM_TOKEN:-local-test-token}#" examples/http-task.yaml |
  kubectl apply -n demo -f -
kubectl wait -n demo --for=condition=Ready downloader/status-direct --timeout=120s
kubectl annotate -n demo downloader/status-direct --overwrite "downloader.dev/run-now=$(date +%s)"
for _ in $(seq 1 60); do
  status="$(kubectl get -n demo dl status-direct -o jsonpath='{.status.lastExecution.status}')"
  [[ "$status" == SUCCEEDED || "$status" == FAILED ]] && break
  sleep 2
done
echo "last execution through the HTTP Task: ${status:-none yet}"
kubectl get -n demo dl status-direct -o jsonpath='{.status.resources}' | python3 -m json.tool

step "the schedule runs it every minute; rows keep arriving (Ctrl-C to stop)"
started=$SECONDS
while (( duration == 0 || SECONDS - started < duration )); do
  sleep 20
  printf '%s  ' "$(date +%H:%M:%S)"
  kubectl get -n demo dl eve-player-count --no-headers
  npx tsx scripts/show-aws.ts demo eve-player-count --rows-only
done
