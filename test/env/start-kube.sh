#!/usr/bin/env bash
# Starts etcd and kube-apiserver on free loopback ports, as envtest does: generated certificates,
# an admin client certificate in group system:masters, and a kubeconfig. Writes STATE_DIR/kube.env.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"

state="${1:?usage: start-kube.sh STATE_DIR}"
mkdir -p "$state"
state="$(cd "$state" && pwd)"
bin="$(bash "$here/build-kube.sh")"
pki="$state/pki"
mkdir -p "$pki" "$state/etcd"
need openssl "it is needed to make the local cluster's certificates"
need curl "it is needed to see when etcd and kube-apiserver answer"
need python3 "Python 3 is needed to find free ports"

if [[ ! -f "$pki/admin.crt" ]]; then
  say "generating certificates"
  (
    cd "$pki"
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=downloader-local-ca" \
      -keyout ca.key -out ca.crt 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n' >server.ext
    openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" -keyout server.key -out server.csr 2>/dev/null
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
      -extfile server.ext -out server.crt 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl req -newkey rsa:2048 -nodes -subj "/O=system:masters/CN=admin" -keyout admin.key -out admin.csr 2>/dev/null
    openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
      -extfile client.ext -out admin.crt 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  )
fi

etcd_port="$(free_port)"
etcd_peer_port="$(free_port)"
api_port="$(free_port)"
[[ -n "$etcd_port" && -n "$api_port" ]] || fail "could not find a free port on 127.0.0.1"

say "starting etcd on 127.0.0.1:$etcd_port"
start_bg "$state" etcd "$bin/etcd" --data-dir "$state/etcd" --name local \
  --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
  --listen-peer-urls "http://127.0.0.1:$etcd_peer_port" \
  --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
  --initial-cluster "local=http://127.0.0.1:$etcd_peer_port" --unsafe-no-fsync \
  --listen-metrics-urls "" --log-level warn
wait_for "etcd" 30 "$state/logs/etcd.log" curl -fsS "http://127.0.0.1:$etcd_port/health"

say "starting kube-apiserver on 127.0.0.1:$api_port"
start_bg "$state" kube-apiserver "$bin/kube-apiserver" \
  --etcd-servers "http://127.0.0.1:$etcd_port" --etcd-prefix /registry \
  --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
  --tls-cert-file "$pki/server.crt" --tls-private-key-file "$pki/server.key" \
  --client-ca-file "$pki/ca.crt" --authorization-mode RBAC \
  --service-account-issuer https://kubernetes.default.svc \
  --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
  --service-cluster-ip-range 10.0.0.0/24 --allow-privileged=true \
  --disable-admission-plugins ServiceAccount --cert-dir "$pki" --v 1

kubeconfig="$state/kubeconfig"
cat >"$kubeconfig" <<KCFG
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:$api_port
    certificate-authority: $pki/ca.crt
users:
- name: admin
  user:
    client-certificate: $pki/admin.crt
    client-key: $pki/admin.key
contexts:
- name: local
  context: {cluster: local, user: admin, namespace: default}
current-context: local
KCFG

wait_for "kube-apiserver" 90 "$state/logs/kube-apiserver.log" \
  curl -fsS --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" \
  "https://127.0.0.1:$api_port/readyz"

cat >"$state/kube.env" <<ENV
export KUBECONFIG="$kubeconfig"
export KUBE_BIN_DIR="$bin"
export KUBE_API_URL="https://127.0.0.1:$api_port"
export PATH="$bin:\$PATH"
ENV
say "kube-apiserver ready at https://127.0.0.1:$api_port"
