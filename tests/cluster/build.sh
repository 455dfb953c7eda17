#!/usr/bin/env bash
# Builds the test control plane and the kustomize/helm CLIs from pinned Go modules
# into a cache directory outside the repository, keyed by version, and reuses it.
#
# Prints the directory holding the binaries on its last line of stdout.
#
#   KFPLAN_TEST_ASSETS=/dir   use prebuilt binaries from /dir instead (like envtest's
#                             KUBEBUILDER_ASSETS); nothing is built, missing ones fail.
#   KFPLAN_CACHE=/dir         cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/kfplan)
#
#   build.sh s3server         builds (or reuses) only the S3-compatible test server
#                             (go/s3server) and prints its path last.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"

need=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok kustomize helm)

check_dir() {
  local dir=$1 missing=()
  for b in "${need[@]}"; do [[ -x "$dir/$b" ]] || missing+=("$b"); done
  if ((${#missing[@]})); then
    echo "kfplan: missing in $dir: ${missing[*]}" >&2
    return 1
  fi
}

# The S3-compatible server of the bucket-check tests, in a directory of its own keyed
# by its sources (gofakes3 pinned in go/s3server/go.mod), so changing it rebuilds
# only it. Sets S3SERVER to the binary.
build_s3server() {
  local src="$here/go/s3server" sum dir start=$SECONDS
  sum=$(cat "$src/go.mod" "$src/go.sum" "$src/main.go" | sha256sum | cut -c1-16)
  dir="${KFPLAN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kfplan}/bin/s3server-$sum"
  S3SERVER="$dir/s3server"
  [[ -x "$S3SERVER" ]] && return 0
  command -v go >/dev/null || {
    echo "kfplan: Go is required to build the S3 test server (https://go.dev/dl, go >= 1.24)" >&2
    return 1
  }
  echo "kfplan: building s3server ..." >&2
  mkdir -p "$dir.tmp.$$"
  if ! (cd "$src" && GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod \
    GOPROXY="file://$(go env GOMODCACHE)/cache/download,$(go env GOPROXY)" \
    go build -trimpath -ldflags '-s -w' -o "$dir.tmp.$$/s3server" .) >&2; then
    rm -rf "$dir.tmp.$$"
    echo "kfplan: building s3server failed" >&2
    return 1
  fi
  rm -rf "$dir"
  mv "$dir.tmp.$$" "$dir"
  echo "kfplan: built s3server in $((SECONDS - start))s" >&2
}

if [[ "${1:-}" == s3server ]]; then
  build_s3server
  echo "$S3SERVER"
  exit 0
fi

if [[ -n "${KFPLAN_TEST_ASSETS:-}" ]]; then
  check_dir "$KFPLAN_TEST_ASSETS" || {
    echo "kfplan: KFPLAN_TEST_ASSETS must hold: ${need[*]}" >&2
    exit 1
  }
  echo "$KFPLAN_TEST_ASSETS"
  exit 0
fi

command -v go >/dev/null || {
  echo "kfplan: Go is required to build the test control plane (https://go.dev/dl, go >= 1.24)" >&2
  exit 1
}

cache=${KFPLAN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kfplan}
key="k8s-$KUBERNETES_VERSION.etcd-$ETCD_VERSION.kwok-$KWOK_VERSION.kustomize-$KUSTOMIZE_VERSION.helm-$HELM_VERSION"
out="$cache/bin/$key"
build_s3server
if check_dir "$out" 2>/dev/null; then
  echo "kfplan: reusing $out" >&2
  echo "$out"
  exit 0
fi

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
# Serve modules already in the module cache first, so a machine with warm Go caches
# rebuilds without network (`go install pkg@version` otherwise asks the proxy about
# every candidate module path); anything missing comes from the configured proxy.
GOPROXY="file://$(go env GOMODCACHE)/cache/download,$(go env GOPROXY)"
export GOPROXY
tmp="$out.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT

# Runs one build step. A step that failed on a network error (module proxy or DNS
# unreachable for a moment) is tried again, up to 3 times; Go's caches keep what was
# already downloaded and compiled, so a retry only redoes the missing part.
step() {
  local name=$1
  shift
  local start=$SECONDS attempt log
  log=$(mktemp)
  echo "kfplan: building $name ..." >&2
  for attempt in 1 2 3; do
    if "$@" 2>&1 | tee "$log" >&2; then
      rm -f "$log"
      echo "kfplan: built $name in $((SECONDS - start))s" >&2
      return 0
    fi
    if ((attempt < 3)) && grep -qE 'dial tcp|no route to host|i/o timeout|connection (reset|refused)|TLS handshake timeout|unexpected EOF|temporary failure' "$log"; then
      echo "kfplan: network error while building $name; trying again in $((attempt * 15))s" >&2
      sleep $((attempt * 15))
      continue
    fi
    break
  done
  rm -f "$log"
  echo "kfplan: building $name failed (command: $*)" >&2
  exit 1
}

minor=${KUBERNETES_VERSION#v1.}
minor=${minor%%.*}
X="-X k8s.io/component-base/version"
Y="-X k8s.io/client-go/pkg/version"
ldflags="-s -w $X.gitVersion=$KUBERNETES_VERSION $X.gitMajor=1 $X.gitMinor=$minor $X.gitTreeState=clean"
ldflags+=" $Y.gitVersion=$KUBERNETES_VERSION $Y.gitMajor=1 $Y.gitMinor=$minor $Y.gitTreeState=clean"

step etcd bash -c "cd '$here/go/etcd' && go build -trimpath -ldflags '-s -w' -o '$tmp/etcd' ."
step kubernetes bash -c "cd '$here/go/kubernetes' && go build -trimpath -ldflags '$ldflags' -o '$tmp/' \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl"
step kwok env GOBIN="$tmp" go install -trimpath -ldflags '-s -w' "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
step kustomize env GOBIN="$tmp" go install -trimpath -ldflags "-s -w -X sigs.k8s.io/kustomize/api/provenance.version=$KUSTOMIZE_VERSION" \
  "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
step helm env GOBIN="$tmp" go install -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
  "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"

check_dir "$tmp"
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "$out"
