#!/usr/bin/env bash
# Builds (or reuses) every tool the e2e run needs, from the Go module proxy only.
# Idempotent: a tool whose binary for its pinned version exists in the cache is skipped.
#   cache:   ${MODELSTACK_E2E_CACHE:-$HOME/.cache/modelstack-e2e}  (binaries, GOMODCACHE, GOCACHE, wrapper copies)
#   output:  out/e2e/tools.env  (paths of the binaries), out/e2e/build.json (seconds)
# Usage: e2e/build.sh [tool ...]   (default: all)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
# shellcheck source=versions.env
source "$HERE/versions.env"

CACHE="${MODELSTACK_E2E_CACHE:-$HOME/.cache/modelstack-e2e}"
OUT="$ROOT/out/e2e"
mkdir -p "$CACHE/bin" "$CACHE/src" "$CACHE/gomod" "$CACHE/gocache" "$OUT"
export GOMODCACHE="$CACHE/gomod" GOCACHE="$CACHE/gocache"
# E2E_GO_P: Go build parallelism (-p), for builds sharing a busy machine.
export GOFLAGS="-trimpath -mod=mod${E2E_GO_P:+ -p=$E2E_GO_P}" CGO_ENABLED=0 GOTOOLCHAIN=local
export PATH="/usr/local/go/bin:$PATH"
LDFLAGS_BASE="-s -w"

log() { echo "[build $(date +%H:%M:%S)] $*" >&2; }

# Copy a wrapper module (go.mod + our main.go) from e2e/tools/NAME to a fresh dir in the cache
# (\$CACHE/src/DIR-VERSION, DIR defaulting to NAME).
workdir() {
  local name=$1 ver=$2 dir="$CACHE/src/${3:-$1}-$2"
  rm -rf "$dir"; mkdir -p "$dir"
  cp -r "$HERE/tools/$name/." "$dir/"
  echo "$dir"
}

# pkg/v3's go.mod replaces sdk/v3 with ../sdk (we require sdk/v3 at the same tag instead) and atotto/clipboard
# with a fork: repeat the latter in a wrapper that builds pkg/v3 code.
add_clipboard_replace() {
  go mod download -json "github.com/pulumi/pulumi/pkg/v3@$PULUMI_VERSION" >/dev/null
  grep '^replace github.com/atotto/clipboard' \
    "$GOMODCACHE/cache/download/github.com/pulumi/pulumi/pkg/v3/@v/$PULUMI_VERSION.mod" >> "$1/go.mod" || true
}

build_etcd() {
  local bin="$CACHE/bin/etcd-$ETCD_VERSION/etcd"
  [[ -x $bin ]] && return 0
  local d; d=$(workdir etcd "$ETCD_VERSION")
  (cd "$d" && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" && go mod tidy \
     && go build -ldflags "$LDFLAGS_BASE" -o "$bin" .)
}

# The k8s.io/kubernetes wrapper in $CACHE/src/$1-$K8S_VERSION, resolved; sets KUBE_LD (version ldflags). Every
# Kubernetes binary is built from one go.mod with the same flags and GOCACHE, so they share compiled packages.
kube_wrapper() {
  KUBE_SRC=$(workdir kube "$K8S_VERSION" "$1")
  # k8s.io/kubernetes replaces every staging module with ./staging/src/...; point each at its published version.
  go mod download -json "k8s.io/kubernetes@$K8S_VERSION" >/dev/null
  local mod="$GOMODCACHE/cache/download/k8s.io/kubernetes/@v/$K8S_VERSION.mod"
  { echo; echo "replace ("
    sed -n 's#^\s*\(k8s.io/[^ ]*\) => ./staging/src/.*#\t\1 => \1 '"$K8S_STAGING_VERSION"'#p' "$mod"
    echo ")"; } >> "$KUBE_SRC/go.mod"
  local v="k8s.io/component-base/version" maj=${K8S_VERSION#v}; maj=${maj%%.*}
  local min=${K8S_VERSION#v*.}; min=${min%%.*}
  KUBE_LD="$LDFLAGS_BASE -X $v.gitVersion=$K8S_VERSION -X $v.gitMajor=$maj -X $v.gitMinor=$min -X $v.gitTreeState=clean"
  KUBE_LD="$KUBE_LD -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION -X k8s.io/client-go/pkg/version.gitMajor=$maj -X k8s.io/client-go/pkg/version.gitMinor=$min"
  (cd "$KUBE_SRC" && go get "k8s.io/kubernetes@$K8S_VERSION")
}

# Builds k8s.io/kubernetes/cmd/NAME for each NAME into $CACHE/bin/kube-$K8S_VERSION, from wrapper copy $1.
build_kube_cmds() {
  local src=$1; shift
  local dir="$CACHE/bin/kube-$K8S_VERSION" c all=1
  for c in "$@"; do [[ -x $dir/$c ]] || all=0; done
  [[ $all == 1 ]] && return 0
  kube_wrapper "$src"
  mkdir -p "$dir"
  for c in "$@"; do
    log "kube: $c"; (cd "$KUBE_SRC" && go build -ldflags "$KUBE_LD" -o "$dir/$c" "k8s.io/kubernetes/cmd/$c") || return 1
  done
}

build_kube() { build_kube_cmds kube kube-apiserver kube-controller-manager kube-scheduler; }

# The real node's kubelet and kube-proxy (e2e/realnode.py), at the control plane's version.
build_node() { build_kube_cmds kube-node kubelet kube-proxy; }

# Cluster DNS for the real node: CoreDNS at the version kubeadm of K8S_VERSION installs, with our plugin list.
build_coredns() {
  local bin="$CACHE/bin/coredns-$COREDNS_VERSION/coredns"
  local sum; sum=$(cat "$HERE/tools/coredns/main.go" | sha256sum | cut -c1-12)
  [[ -x $bin && -f $bin.$sum ]] && return 0
  local d; d=$(workdir coredns "$COREDNS_VERSION")
  (cd "$d" && go get "github.com/coredns/coredns@$COREDNS_VERSION" && go mod tidy \
     && go build -ldflags "$LDFLAGS_BASE" -o "$bin" .)
  rm -f "$bin".*; touch "$bin.$sum"
}

# Our pod binaries (standard library only, static): the pause process and the stand-in model server. Rebuilt when
# their source changes (the directory is named after its digest).
podbins_dir() { echo "$CACHE/bin/podbins-$(cat "$HERE"/tools/{pause,modelserver}/* | sha256sum | cut -c1-12)"; }
build_podbins() {
  local dir; dir=$(podbins_dir)
  [[ -x $dir/pause && -x $dir/modelserver ]] && return 0
  mkdir -p "$dir"
  local t; for t in pause modelserver; do
    local d; d=$(workdir "$t" "${dir##*-}")
    (cd "$d" && go build -ldflags "$LDFLAGS_BASE" -o "$dir/$t" .) || return 1
  done
}

build_kwok() {
  local bin="$CACHE/bin/kwok-$KWOK_VERSION/kwok"
  [[ -x $bin && -s $bin.stages.yaml ]] && return 0
  local d; d=$(workdir kwok "$KWOK_VERSION")
  (cd "$d" && go get "sigs.k8s.io/kwok@$KWOK_VERSION" \
     && go build -ldflags "$LDFLAGS_BASE -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" -o "$bin" sigs.k8s.io/kwok/cmd/kwok)
  # kwok's own default stages (from its module): nodes initialize and renew leases; pods become ready,
  # complete and are deleted.
  local st="$GOMODCACHE/sigs.k8s.io/kwok@$KWOK_VERSION/kustomize/stage"
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
           pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    echo "---"; cat "$st/$f"
  done > "$bin.stages.yaml"
}

build_pulumi() {
  local bin="$CACHE/bin/pulumi-$PULUMI_VERSION/pulumi"
  [[ -x $bin ]] && return 0
  local d; d=$(workdir pulumi "$PULUMI_VERSION")
  add_clipboard_replace "$d"
  local ld="$LDFLAGS_BASE -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION"
  (cd "$d" && go get "github.com/pulumi/pulumi/pkg/v3@$PULUMI_VERSION" "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION" \
     && go build -ldflags "$ld" -o "$bin" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
}

build_langhost() {
  # Our minimal language host for Python and Node.js (e2e/tools/langhost), see e2e/README.md for why.
  local dir="$CACHE/bin/pulumi-$PULUMI_VERSION" bin
  bin="$dir/pulumi-language-python"
  local src="$GOMODCACHE/github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION/python/cmd/pulumi-language-python-exec"
  local sum; sum=$(cat "$HERE/tools/langhost/"*.go | sha256sum | cut -c1-12)
  [[ -x $bin && -f $bin.$sum ]] && return 0
  local d; d=$(workdir langhost "$PULUMI_VERSION")
  add_clipboard_replace "$d"
  (cd "$d" && go get "github.com/pulumi/pulumi/pkg/v3@$PULUMI_VERSION" "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION" \
     && go mod tidy && go build -ldflags "$LDFLAGS_BASE" -o "$bin" .)
  cp "$bin" "$dir/pulumi-language-nodejs"
  # The exec script ships in the sdk/v3 module; it has to sit beside the host.
  install -m 0755 "$src" "$dir/pulumi-language-python-exec"
  rm -f "$bin".*; touch "$bin.$sum"
}

build_k8sprovider() {
  local bin="$CACHE/bin/k8sprovider-$K8S_PROVIDER_VERSION/pulumi-resource-kubernetes"
  [[ -x $bin ]] && return 0
  local d; d=$(workdir k8sprovider "$K8S_PROVIDER_VERSION")
  local m="github.com/pulumi/pulumi-kubernetes/provider/v4"
  go mod download -json "$m@$K8S_PROVIDER_VERSION" >/dev/null
  local moddir="$GOMODCACHE/github.com/pulumi/pulumi-kubernetes/provider/v4@$K8S_PROVIDER_VERSION"
  # Upstream's main embeds a schema generated from this file; take it from the module at build time.
  cp "$moddir/cmd/pulumi-resource-kubernetes/schema.json" "$moddir/cmd/pulumi-resource-kubernetes/terraform-mapping.json" "$d/"
  chmod u+w "$d"/*.json
  # The provider replaces sdk/v4 with ../sdk at an unserved v4.24.0; use the nearest newer served tag.
  printf '\nreplace github.com/pulumi/pulumi-kubernetes/sdk/v4 => github.com/pulumi/pulumi-kubernetes/sdk/v4 %s\n' "$K8S_PROVIDER_SDK_VERSION" >> "$d/go.mod"
  # Its pkg/v3 v3.215.0 does not build against the sdk/v3 v3.226.0 that sdk/v4 v4.29.0 pulls in: one tag for both.
  add_clipboard_replace "$d"
  (cd "$d" && go get "$m@$K8S_PROVIDER_VERSION" "github.com/pulumi/pulumi/pkg/v3@$K8S_PROVIDER_PULUMI_VERSION" \
     "github.com/pulumi/pulumi/sdk/v3@$K8S_PROVIDER_PULUMI_VERSION" && go mod tidy \
     && go build -ldflags "$LDFLAGS_BASE -X $m/pkg/version.Version=${K8S_PROVIDER_VERSION#v}" -o "$bin" .)
}

build_connect() {
  # Redpanda Connect with the pure, io and aws plugins only (e2e/tools/connect), for the async/batch data plane.
  local bin="$CACHE/bin/connect-$CONNECT_VERSION/redpanda-connect"
  [[ -x $bin ]] && return 0
  local d; d=$(workdir connect "$CONNECT_VERSION")
  # Upstream's go.mod replaces 99designs/keyring with a fork; a dependency's replace is ignored, so repeat it.
  go mod download -json "github.com/redpanda-data/connect/v4@$CONNECT_VERSION" >/dev/null
  grep '^replace ' "$GOMODCACHE/cache/download/github.com/redpanda-data/connect/v4/@v/$CONNECT_VERSION.mod" >> "$d/go.mod" || true
  (cd "$d" && go get "github.com/redpanda-data/connect/v4@$CONNECT_VERSION" && go mod tidy \
     && go build -p 1 -ldflags "$LDFLAGS_BASE -X main.Version=${CONNECT_VERSION#v}" -o "$bin" .)
}

# Copy a Go module, as the proxy serves it, to a writable dir in the cache and build its commands there, so its own
# go.mod (replace directives included) and go.sum decide every dependency, as upstream's release build does.
modcopy() {
  local mod=$1 ver=$2 dir="$CACHE/src/$3-$2"
  go mod download -json "$mod@$ver" >/dev/null
  if [[ ! -f $dir/go.mod ]]; then
    rm -rf "$dir"; mkdir -p "$dir"
    cp -r "$GOMODCACHE/$mod@$ver/." "$dir/"; chmod -R u+w "$dir"
  fi
  echo "$dir"
}

build_keda() {
  # KEDA's operator and its metrics API server (cmd/operator, cmd/adapter), with the version ldflags of its Makefile.
  local dir="$CACHE/bin/keda-$KEDA_VERSION" m=github.com/kedacore/keda/v2
  [[ -x $dir/keda && -x $dir/keda-adapter ]] && return 0
  local d; d=$(modcopy "$m" "$KEDA_VERSION" keda)
  local ld="$LDFLAGS_BASE -X $m/version.Version=${KEDA_VERSION#v} -X $m/version.GitCommit=$KEDA_VERSION"
  mkdir -p "$dir"
  (cd "$d" && for c in operator:keda adapter:keda-adapter; do
       log "keda: ${c%%:*}"; GOFLAGS="${GOFLAGS/-mod=mod/-mod=readonly}" go build -ldflags "$ld" -o "$dir/${c#*:}" "./cmd/${c%%:*}" || exit 1
     done)
}

build_httpaddon() {
  # The HTTP add-on's operator, scaler and interceptor, with the version ldflags of its .ko.yaml.
  local dir="$CACHE/bin/http-add-on-$HTTP_ADDON_VERSION" m=github.com/kedacore/http-add-on
  [[ -x $dir/operator && -x $dir/scaler && -x $dir/interceptor ]] && return 0
  local d; d=$(modcopy "$m" "$HTTP_ADDON_VERSION" http-add-on)
  local ld="$LDFLAGS_BASE -X $m/pkg/build.version=$HTTP_ADDON_VERSION -X $m/pkg/build.gitCommit=$HTTP_ADDON_VERSION"
  mkdir -p "$dir"
  (cd "$d" && for c in operator scaler interceptor; do
       log "http-add-on: $c"; GOFLAGS="${GOFLAGS/-mod=mod/-mod=readonly}" go build -ldflags "$ld" -o "$dir/$c" "./$c" || exit 1
     done)
}

# Everything runs from main, so bash has parsed the whole file before any build starts (editing this file
# while a build runs cannot change what that build does).
main() {
  ALL=(etcd kube kwok pulumi langhost k8sprovider node coredns podbins keda httpaddon connect)
  local TOOLS=("$@"); [[ ${#TOOLS[@]} -eq 0 ]] && TOOLS=("${ALL[@]}")
  start=$(date +%s)
  declare -A SECS
  for t in "${TOOLS[@]}"; do
    s=$(date +%s); log "$t ..."
    "build_$t"
    SECS[$t]=$(( $(date +%s) - s )); log "$t done in ${SECS[$t]}s"
    # A tool actually built (not reused) records its cold build time.
    [[ ${SECS[$t]} -gt 5 ]] && echo "${SECS[$t]}" > "$CACHE/cold-$t"
  done
  total=$(( $(date +%s) - start ))

  cat > "$OUT/tools.env" <<EOF
ETCD=$CACHE/bin/etcd-$ETCD_VERSION/etcd
KUBE_BIN=$CACHE/bin/kube-$K8S_VERSION
KWOK=$CACHE/bin/kwok-$KWOK_VERSION/kwok
PULUMI_BIN=$CACHE/bin/pulumi-$PULUMI_VERSION
K8S_PROVIDER=$CACHE/bin/k8sprovider-$K8S_PROVIDER_VERSION/pulumi-resource-kubernetes
CONNECT=$CACHE/bin/connect-$CONNECT_VERSION/redpanda-connect
COREDNS=$CACHE/bin/coredns-$COREDNS_VERSION/coredns
PODBINS=$(podbins_dir)
KEDA_BIN=$CACHE/bin/keda-$KEDA_VERSION
HTTP_ADDON_BIN=$CACHE/bin/http-add-on-$HTTP_ADDON_VERSION
EOF
  # Cold: the sum of each tool's recorded first build (empty caches, tools built one after another);
  # warm: this run (everything reused).
  cold=0; for t in "${ALL[@]}"; do cold=$(( cold + $(cat "$CACHE/cold-$t" 2>/dev/null || echo 0) )); done
  printf '{"this_run_seconds": %s, "cold_seconds": %s}\n' "$total" "$cold" > "$OUT/build.json"
  log "all done in ${total}s"
}

main "$@"
exit $?
