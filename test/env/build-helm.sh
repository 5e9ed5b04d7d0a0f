#!/usr/bin/env bash
# Builds helm from the Go module proxy into the cache build-kube.sh uses, once per version, and
# prints its bin directory. The packaging tests call it and put that directory on PATH.
#
# helm.sh/helm/v3 carries no replace directives, so a wrapper module that requires it builds the
# same module graph as helm's own release; the script fails if a future version adds some. The
# version ldflags are set as helm's Makefile sets them, so `helm version` tells the truth and
# `helm template` assumes the Kubernetes version helm was built against.
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.22.0}"
CACHE_ROOT="${DOWNLOADER_CACHE:-$HOME/.cache/downloader-operator}"
BIN_DIR="$CACHE_ROOT/helm-$HELM_VERSION/bin"

say() { printf '[build-helm] %s\n' "$*" >&2; }
fail() { say "error: $*"; exit 1; }

if [[ -x "$BIN_DIR/helm" ]]; then echo "$BIN_DIR"; exit 0; fi

command -v go >/dev/null || fail "Go is not installed; install Go 1.26 or newer to build helm"
mkdir -p "$CACHE_ROOT"
free_kib=$(df -Pk "$CACHE_ROOT" | awk 'NR==2 {print $4}')
(( free_kib > 2 * 1024 * 1024 )) || fail "less than 2 GiB free under $CACHE_ROOT; the build needs about 2 GiB"

# One build at a time per cache: a second run waits here, then finds helm built.
exec 9>"$CACHE_ROOT/.build-helm.lock"
if ! flock -n 9; then
  say "another helm build is running; waiting for it"
  flock 9
fi
if [[ -x "$BIN_DIR/helm" ]]; then echo "$BIN_DIR"; exit 0; fi

work="$CACHE_ROOT/build-helm-$HELM_VERSION"
rm -rf "$work"
mkdir -p "$work" "$BIN_DIR"
started=$SECONDS

# Runs a long command in the background, its stderr to LOG, and says every 20 s that it is still
# going.
with_progress() {
  local what="$1" log="$2"; shift 2
  "$@" 2>>"$log" &
  local pid=$! status=0
  while kill -0 "$pid" 2>/dev/null; do
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && say "still $what (elapsed $((SECONDS - started))s)"
  done
  wait "$pid" || status=$?
  return "$status"
}

say "resolving helm.sh/helm/v3@$HELM_VERSION"
upstream_mod="$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "helm.sh/helm/v3@$HELM_VERSION" \
  | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
[[ -f "$upstream_mod" ]] || fail "could not download helm.sh/helm/v3@$HELM_VERSION"
if grep -qE '^[[:space:]]*replace\b' "$upstream_mod"; then
  fail "helm $HELM_VERSION's go.mod has replace directives; this script must replace them too"
fi

# helm's Makefile derives the Kubernetes version it assumes from the client-go it uses: v0.X.Y
# means Kubernetes 1.X.
client_go="$(sed -n 's#^[[:space:]]*k8s\.io/client-go \(v[^[:space:]]*\).*#\1#p' "$upstream_mod")"
[[ "$client_go" =~ ^v0\.([0-9]+)\. ]] || fail "no k8s.io/client-go version in $upstream_mod"
k8s_minor="${BASH_REMATCH[1]}"

printf 'module localbuild/helm\n\ngo 1.26\n\nrequire helm.sh/helm/v3 %s\n' "$HELM_VERSION" >"$work/go.mod"
log="$work/go.log"
say "downloading the modules helm needs (log: $log)"
(cd "$work" && with_progress "downloading" "$log" \
  env GOFLAGS=-mod=mod go get "helm.sh/helm/v3/cmd/helm@$HELM_VERSION") \
  || { tail -n 20 "$log" >&2; fail "go get helm.sh/helm/v3/cmd/helm@$HELM_VERSION failed"; }
say "modules ready, $(grep -c "^go: downloading" "$log" || true) downloaded (elapsed $((SECONDS - started))s)"

ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$k8s_minor"
done

say "compiling helm $HELM_VERSION (a few minutes on 2 cores; elapsed $((SECONDS - started))s)"
(cd "$work" && with_progress "compiling" "$log" env GOFLAGS=-mod=mod CGO_ENABLED=0 \
  go build -trimpath -ldflags "$ldflags" -o "$BIN_DIR/helm.tmp" helm.sh/helm/v3/cmd/helm) \
  || { tail -n 20 "$log" >&2; fail "go build of helm failed"; }
mv "$BIN_DIR/helm.tmp" "$BIN_DIR/helm"
rm -rf "$work"

say "done in $((SECONDS - started))s: $("$BIN_DIR/helm" version --short)"
echo "$BIN_DIR"
