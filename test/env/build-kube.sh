#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-controller-manager and kubectl from the Go module proxy into
# a cache shared by every checkout on this machine, once per version.
#
# k8s.io/kubernetes points its staging modules (k8s.io/api, k8s.io/client-go, ...) at
# ./staging/src by replace directives, which a module download does not honour. So we build from
# a small wrapper module that requires k8s.io/kubernetes and replaces each staging module with its
# published v0.X.Y release. The list of staging modules is read from that release's go.mod.
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.8}"
CACHE_ROOT="${DOWNLOADER_CACHE:-$HOME/.cache/downloader-operator}"
BIN_DIR="$CACHE_ROOT/kube-$KUBE_VERSION-etcd-$ETCD_VERSION/bin"
KUBE_BINARIES=(kube-apiserver kube-controller-manager kubectl)

say() { printf '[build-kube] %s\n' "$*" >&2; }
fail() { say "error: $*"; exit 1; }

all_built() {
  for b in etcd "${KUBE_BINARIES[@]}"; do [[ -x "$BIN_DIR/$b" ]] || return 1; done
}

if all_built; then echo "$BIN_DIR"; exit 0; fi

command -v go >/dev/null || fail "Go is not installed; install Go 1.26 or newer to build the local Kubernetes"
mkdir -p "$CACHE_ROOT"
free_kib=$(df -Pk "$CACHE_ROOT" | awk 'NR==2 {print $4}')
(( free_kib > 6 * 1024 * 1024 )) || fail "less than 6 GiB free under $CACHE_ROOT; the build needs about 6 GiB"

# One build at a time per cache: a second run waits here, then finds the binaries built.
exec 9>"$CACHE_ROOT/.build.lock"
if ! flock -n 9; then
  say "another build is running; waiting for it"
  flock 9
fi
if all_built; then echo "$BIN_DIR"; exit 0; fi

work="$CACHE_ROOT/build-$KUBE_VERSION"
mkdir -p "$work/kube" "$work/etcd" "$BIN_DIR"
minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
staging_version="v0.${KUBE_VERSION#v1.}"
started=$SECONDS

say "reading the staging module list from k8s.io/kubernetes@$KUBE_VERSION's go.mod"
upstream_mod="$work/kubernetes.go.mod"
(cd "$work/kube" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$KUBE_VERSION") \
  | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p' | xargs -I{} cp {} "$upstream_mod"
mapfile -t staging < <(sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\) => \./staging/.*#\1#p' "$upstream_mod")
(( ${#staging[@]} > 10 )) || fail "found only ${#staging[@]} staging modules in $upstream_mod"
say "${#staging[@]} staging modules, each replaced by its $staging_version release"

{
  echo "module localbuild/kube"
  echo
  echo "go 1.26"
  echo
  echo "require k8s.io/kubernetes $KUBE_VERSION"
  echo
  for m in "${staging[@]}"; do echo "replace $m => $m $staging_version"; done
} >"$work/kube/go.mod"

commit="$(date -u +%Y%m%d)-module-proxy"
build_date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitCommit=$commit -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
done

for b in "${KUBE_BINARIES[@]}"; do
  [[ -x "$BIN_DIR/$b" ]] && continue
  say "building $b $KUBE_VERSION (several minutes on 2 cores; elapsed $((SECONDS - started))s)"
  (cd "$work/kube" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags "-s -w $ldflags" \
    -o "$BIN_DIR/$b.tmp" "k8s.io/kubernetes/cmd/$b") || fail "go build of $b failed"
  mv "$BIN_DIR/$b.tmp" "$BIN_DIR/$b"
done

if [[ ! -x "$BIN_DIR/etcd" ]]; then
  say "building etcd $ETCD_VERSION (elapsed $((SECONDS - started))s)"
  printf 'module localbuild/etcd\n\ngo 1.26\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" \
    >"$work/etcd/go.mod"
  (cd "$work/etcd" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" \
    -o "$BIN_DIR/etcd.tmp" go.etcd.io/etcd/server/v3) || fail "go build of etcd failed"
  mv "$BIN_DIR/etcd.tmp" "$BIN_DIR/etcd"
fi

say "done in $((SECONDS - started))s: $BIN_DIR"
echo "$BIN_DIR"
