#!/usr/bin/env bash
# shellcheck disable=SC2016 # single-quoted scripts are for node, the namespace or the image
# Builds the Dockerfile and runs the image against the local cloud, where no Docker engine and no
# container registry can be reached. The most real check these machines allow:
#
#   1. a stand-in for the base image: Debian bookworm (debootstrap --variant=minbase from
#      Debian's mirror) with this machine's Node.js 20 and npm laid out as in the official node
#      image (/usr/local/bin/node, /usr/local/lib/node_modules/npm), committed with buildah as
#      localhost/node:20.19-bookworm-slim (cached; rebuilt when the machine's Node.js changes);
#   2. `buildah bud` of the Dockerfile, unchanged, with NODE_IMAGE pointing at the stand-in
#      (chroot isolation, overlay storage under the cache, layers cached between runs; `npm
#      ci` reaches the npm registry);
#   3. the image config: user 65532:65532, workdir /app, entrypoint node dist/main.js (the
#      bundle), and no npm, npx, yarn or node_modules in the runtime stage;
#   4. its root filesystem mounted read-only (/tmp included: the operator writes nothing at
#      all), entered with chroot as user 65532 with the image's environment, workdir and
#      entrypoint: the operator must log "caches synced", answer /readyz, reconcile the
#      article's Downloader to Ready against the local cloud, run it once (run-now SUCCEEDED)
#      and delete it cleanly, without logging an error.
#
#   sudo bash test/env/image/check-image.sh
#
# Needs root (buildah's chroot isolation, mount namespaces, chroot), buildah and debootstrap
# (`apt-get install -y buildah debootstrap`; CHECK_IMAGE_INSTALL=1 runs it). Settings:
#
#   CHECK_CLOUD_ENV   cloud.env of a running local cloud to use (default: start one in
#                     .local/image-check and stop it at the end)
#   DEBIAN_MIRROR     mirror for debootstrap (default: debootstrap's own)
#   DOWNLOADER_CACHE  cache directory (~/.cache/downloader-operator): stand-in rootfs, buildah
#                     storage (image-check/)
#   CHECK_STORAGE_DRIVER  buildah storage driver: overlay (default), or vfs where overlay
#                     mounts are not allowed (much slower: every layer is a full copy)
#   KEEP_IMAGE=1      keep the built image (localhost/downloader-operator:check) afterwards
#
# What it does not show: that the real node:20.19-bookworm-slim (its exact Node.js 20.19.x and
# Debian packages) behaves the same, a pull by digest, a multi-arch build, or the image under
# a real container runtime (seccomp, capabilities, cgroups) and on a kubelet.
set -euo pipefail

say() { printf '[image] %s\n' "$*" >&2; }
fail() { say "error: $*"; exit 1; }

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
cache="${DOWNLOADER_CACHE:-$HOME/.cache/downloader-operator}/image-check"
mirror=(${DEBIAN_MIRROR:+"$DEBIAN_MIRROR"})
base_image="localhost/node:20.19-bookworm-slim"
image="localhost/downloader-operator:check"
readonly RUN_UID=65532
readonly READY_TIMEOUT_S=120
started_at=$SECONDS

[[ "$(id -u)" == 0 ]] || fail "run as root (buildah chroot isolation, mount namespaces, chroot)"
if [[ "${CHECK_IMAGE_INSTALL:-0}" == 1 ]]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah debootstrap
fi
for tool in buildah debootstrap unshare chroot node kubectl; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (apt-get install -y buildah debootstrap)"
done

mkdir -p "$cache"
driver="${CHECK_STORAGE_DRIVER:-overlay}"
storage=(--root "$cache/storage-$driver" --runroot "$cache/run-$driver" --storage-driver "$driver")
bah() { buildah "${storage[@]}" "$@"; }

phase() { say "$1 ($((SECONDS - started_at)) s)"; }

# --- the local cloud ------------------------------------------------------------------------
own_cloud=""
if [[ -n "${CHECK_CLOUD_ENV:-}" ]]; then
  cloud_env="$CHECK_CLOUD_ENV"
else
  own_cloud="$root/.local/image-check"
  mkdir -p "$own_cloud"
  CLOUD_DIR="$own_cloud" bash "$root/test/env/cloud-up.sh"
  cloud_env="$own_cloud/cloud.env"
fi
# shellcheck disable=SC1090
source "$cloud_env"

operator_pid=""
container=""
namespace=""
cleanup() {
  local status=$?
  if [[ -n "$operator_pid" ]] && kill -0 "$operator_pid" 2>/dev/null; then
    kill -TERM "$operator_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$operator_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$operator_pid" 2>/dev/null || true
  fi
  if [[ -n "$namespace" ]]; then
    kubectl delete namespace "$namespace" --wait=false >/dev/null 2>&1 || true
  fi
  if [[ -n "$container" ]]; then
    bah umount "$container" >/dev/null 2>&1 || true
    bah rm "$container" >/dev/null 2>&1 || true
  fi
  if [[ "${KEEP_IMAGE:-0}" != 1 ]]; then bah rmi "$image" >/dev/null 2>&1 || true; fi
  if [[ -n "$own_cloud" ]]; then CLOUD_DIR="$own_cloud" bash "$root/test/env/cloud-down.sh" || true; fi
  exit "$status"
}
trap cleanup EXIT

# --- 1. the stand-in base image -------------------------------------------------------------
node_bin="$(readlink -f "$(command -v node)")"
node_version="$(node -p 'process.versions.node')"
[[ "$node_version" == 20.* ]] || fail "this machine's Node.js is $node_version; the base is Node.js 20"
npm_dir="$(npm root -g)/npm"
[[ -f "$npm_dir/bin/npm-cli.js" ]] || fail "npm not found at $npm_dir"
stamp="bookworm-node-$node_version-npm-$(node -p "require('$npm_dir/package.json').version")"
if [[ -n "${NODE_EXTRA_CA_CERTS:-}" && -f "$NODE_EXTRA_CA_CERTS" ]]; then
  stamp="$stamp-ca-$(sha256sum "$NODE_EXTRA_CA_CERTS" | cut -c1-12)"
fi

if [[ "$(bah inspect --type image --format '{{index .OCIv1.Config.Labels "check.stamp"}}' "$base_image" 2>/dev/null)" != "$stamp" ]]; then
  phase "building the stand-in base $base_image ($stamp)"
  minbase="$cache/bookworm-minbase"
  if [[ ! -x "$minbase/bin/sh" ]]; then
    rm -rf "$minbase.tmp"
    debootstrap --variant=minbase bookworm "$minbase.tmp" "${mirror[@]}" >"$cache/debootstrap.log" 2>&1 ||
      { tail -n 20 "$cache/debootstrap.log" >&2; fail "debootstrap failed (log: $cache/debootstrap.log)"; }
    rm -rf "$minbase.tmp"/var/lib/apt/lists/* "$minbase.tmp"/var/cache/apt/*.bin
    mv "$minbase.tmp" "$minbase"
  fi
  base_ctr="$(bah from --quiet scratch)"
  base_root="$(bah mount "$base_ctr")"
  cp -a "$minbase/." "$base_root/"
  install -D -m 0755 "$node_bin" "$base_root/usr/local/bin/node"
  mkdir -p "$base_root/usr/local/lib/node_modules"
  cp -a "$npm_dir" "$base_root/usr/local/lib/node_modules/npm"
  ln -sfn ../lib/node_modules/npm/bin/npm-cli.js "$base_root/usr/local/bin/npm"
  ln -sfn ../lib/node_modules/npm/bin/npx-cli.js "$base_root/usr/local/bin/npx"
  # Where this machine reaches the npm registry through a proxy with its own CA (it sets
  # NODE_EXTRA_CA_CERTS), the stand-in trusts it the same way, so that `npm ci` in the build
  # can: an environment detail the Dockerfile knows nothing of.
  extra_ca=()
  if [[ -n "${NODE_EXTRA_CA_CERTS:-}" && -f "$NODE_EXTRA_CA_CERTS" ]]; then
    install -D -m 0644 "$NODE_EXTRA_CA_CERTS" "$base_root/$NODE_EXTRA_CA_CERTS"
    extra_ca=(--env "NODE_EXTRA_CA_CERTS=$NODE_EXTRA_CA_CERTS")
  fi
  bah umount "$base_ctr" >/dev/null
  bah config --env "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --env "NODE_VERSION=$node_version" "${extra_ca[@]}" --cmd node \
    --label "check.stamp=$stamp" "$base_ctr"
  bah commit --quiet --rm "$base_ctr" "$base_image" >/dev/null
fi
probe_ctr="$(bah from --quiet "$base_image")"
chroot "$(bah mount "$probe_ctr")" /usr/local/bin/node -e 'require("node:fs")' ||
  fail "node does not run in the stand-in base"
bah rm "$probe_ctr" >/dev/null

# --- 2. the build ---------------------------------------------------------------------------
phase "building the Dockerfile (buildah bud, chroot isolation)"
build_started=$SECONDS
bah bud --isolation chroot --layers --build-arg "NODE_IMAGE=$base_image" --tag "$image" \
  --file "$root/Dockerfile" "$root" >"$cache/build.log" 2>&1 ||
  { tail -n 30 "$cache/build.log" >&2; fail "the build failed (log: $cache/build.log)"; }
say "built $image in $((SECONDS - build_started)) s (log: $cache/build.log)"

# --- 3. the image config --------------------------------------------------------------------
config="$(bah inspect --type image "$image" |
  node -e 'console.log(JSON.stringify(JSON.parse(require("fs").readFileSync(0, "utf8")).OCIv1.config))')"
node -e '
  const c = JSON.parse(process.argv[1]);
  const want = { User: "65532:65532", WorkingDir: "/app", Entrypoint: ["node", "dist/main.js"] };
  for (const [k, v] of Object.entries(want)) {
    if (JSON.stringify(c[k]) !== JSON.stringify(v)) {
      console.error(`[image] error: ${k} is ${JSON.stringify(c[k])}, want ${JSON.stringify(v)}`);
      process.exit(1);
    }
  }' "$config"
mapfile -t image_env < <(node -e 'for (const e of JSON.parse(process.argv[1]).Env ?? []) console.log(e)' "$config")
workdir="$(node -p 'JSON.parse(process.argv[1]).WorkingDir' "$config")"
mapfile -t entrypoint < <(node -e 'for (const e of JSON.parse(process.argv[1]).Entrypoint) console.log(e)' "$config")

container="$(bah from --quiet "$image")"
rootfs="$(bah mount "$container" | tail -n1)"
for absent in usr/local/bin/npm usr/local/bin/npx usr/local/lib/node_modules/npm app/node_modules; do
  [[ ! -e "$rootfs/$absent" ]] || fail "/$absent is in the runtime image"
done
for present in app/dist/main.js app/package.json app/package-lock.json app/crds; do
  [[ -e "$rootfs/$present" ]] || fail "/$present is missing from the image"
done
[[ ! -e "$rootfs/app/src" ]] || fail "sources in the image"
owned="$(find "$rootfs/app" ! -type l \( -uid "$RUN_UID" -o -perm -o+w \) -print -quit)"
[[ -z "$owned" ]] || fail "$owned is writable by the runtime user"
say "image config and contents as expected ($(du -sh "$rootfs" | cut -f1) unpacked)"

# --- 4. run it: read-only root, user 65532, the local cloud -------------------------------
kubeconfig="$(kubectl config view --raw --flatten --minify)"
namespace="image-check-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
kubectl create namespace "$namespace" >/dev/null
log="$cache/operator.log"
port_probe="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"

# A private mount namespace: the rootfs bound read-only, /proc, /dev, and a small tmpfs on /mnt
# holding the flattened kubeconfig (made read-only too); then chroot as 65532 with only the
# image's environment plus the operator's settings, in the image's workdir.
in_image=(unshare --mount --propagation private bash -c '
  set -euo pipefail
  rootfs="$1"; uid="$2"; shift 2
  mount --bind "$rootfs" "$rootfs"
  mount -o remount,bind,ro "$rootfs"
  mount -t proc proc "$rootfs/proc"
  mount --rbind /dev "$rootfs/dev"
  mount -t tmpfs -o size=1m,mode=0755 tmpfs "$rootfs/mnt"
  printf "%s\n" "$KUBECONFIG_TEXT" >"$rootfs/mnt/kubeconfig"
  chmod 0644 "$rootfs/mnt/kubeconfig"
  mount -o remount,ro "$rootfs/mnt"
  exec chroot --userspec="$uid:$uid" "$rootfs" "$@"
' run "$rootfs" "$RUN_UID")
settings=(
  KUBECONFIG=/mnt/kubeconfig
  "AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL" "AWS_REGION=$AWS_REGION"
  "AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID" "AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY"
  "APIGW_INVOKE_ENDPOINT_TEMPLATE=$APIGW_INVOKE_ENDPOINT_TEMPLATE"
)
export KUBECONFIG_TEXT="$kubeconfig"

# Nothing is writable for the operator's user, /tmp included.
"${in_image[@]}" /usr/bin/env -i "${image_env[@]}" /bin/sh -c '
  for path in /app/probe /app/dist/probe /probe /tmp/probe /var/tmp/probe; do
    if touch "$path" 2>/dev/null; then echo "wrote $path" >&2; exit 1; fi
  done' || fail "the root filesystem is writable for user $RUN_UID"

phase "starting the operator from the image (read-only root, user $RUN_UID)"
# A simple command in the background: $! is unshare, which execs down to node.
"${in_image[@]}" /usr/bin/env -i --chdir="$workdir" "${image_env[@]}" "${settings[@]}" \
  "${entrypoint[@]}" --namespaces "$namespace" --metrics-address "127.0.0.1:$port_probe" \
  --execution-poll-interval 2 >"$log" 2>&1 &
operator_pid=$!
unset KUBECONFIG_TEXT

deadline=$((SECONDS + READY_TIMEOUT_S))
until grep -q '"msg":"caches synced"' "$log"; do
  kill -0 "$operator_pid" 2>/dev/null || { tail -n 20 "$log" >&2; fail "the operator exited (log: $log)"; }
  ((SECONDS < deadline)) || { tail -n 20 "$log" >&2; fail "no \"caches synced\" within ${READY_TIMEOUT_S}s"; }
  sleep 0.3
done
say "the operator in the image logged \"caches synced\""
python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)' \
  "http://127.0.0.1:$port_probe/readyz" || fail "/readyz did not answer 200"

table="ImageCheck$(date +%s)"
sed -e "s|url: https://esi.evetech.net|url: $UPSTREAM_URL|" -e "s|name: PlayerCountTable|name: $table|" \
  "$root/examples/eve-player-count.yaml" | kubectl apply -n "$namespace" -f - >/dev/null
kubectl wait -n "$namespace" --for=condition=Ready --timeout="${READY_TIMEOUT_S}s" \
  downloader/eve-player-count >/dev/null || { tail -n 20 "$log" >&2; fail "the Downloader did not become Ready"; }
kubectl annotate -n "$namespace" downloader/eve-player-count downloader.dev/run-now=image-check >/dev/null
deadline=$((SECONDS + READY_TIMEOUT_S))
until [[ "$(kubectl get -n "$namespace" downloader/eve-player-count \
  -o jsonpath='{.status.lastRunNow}/{.status.lastExecution.status}')" == image-check/SUCCEEDED ]]; do
  ((SECONDS < deadline)) || { tail -n 20 "$log" >&2; fail "run-now did not succeed"; }
  sleep 0.5
done
say "the Downloader is Ready and its run-now execution SUCCEEDED"
kubectl delete -n "$namespace" downloader/eve-player-count --timeout=90s >/dev/null ||
  fail "the Downloader was not deleted"
if grep -E '"level":(50|60)' "$log" >&2; then fail "the operator logged errors (log: $log)"; fi

phase "image check passed"
