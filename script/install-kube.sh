#!/usr/bin/env bash
# Builds the Kubernetes binaries the kube integration tests run (kube-apiserver, kubelet, kubectl) from
# the k8s.io/kubernetes Go module at a pinned version, and installs etcd (Debian's etcd-server).
# The binaries are cached in $KUBE_DIR; a second run does nothing. The build is CPU-heavy (about
# half an hour on 2 shared cores), so it runs at the lowest priority.
#
# k8s.io/kubernetes cannot be `go install`ed directly: its go.mod replaces the k8s.io/* staging modules
# with directories inside its own tree, and a dependency's replace directives are ignored. So we write a
# throwaway build module in a temp dir that requires k8s.io/kubernetes and replaces every staging module
# with its published release (k8s.io/api v0.34.x for Kubernetes v1.34.x, and so on).
set -euo pipefail

KUBE_VERSION=${KUBE_VERSION:-v1.34.4}
KUBE_DIR=${SECRUN_KUBE_DIR:-/opt/secrun-test/kube-${KUBE_VERSION#v}}
BINS=(kube-apiserver kubelet kubectl)

if ! dpkg -s etcd-server >/dev/null 2>&1; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends etcd-server >/dev/null
	# The package enables a system etcd on 2379; the tests start their own on private ports.
	systemctl disable --now etcd >/dev/null 2>&1 || true
fi

missing=()
for b in "${BINS[@]}"; do [ -x "$KUBE_DIR/$b" ] || missing+=("$b"); done
if [ ${#missing[@]} -eq 0 ]; then
	echo "install-kube: ok (cached in $KUBE_DIR)"
	exit 0
fi

if ! command -v go >/dev/null 2>&1; then
	if [ -x /usr/local/go/bin/go ]; then export PATH=$PATH:/usr/local/go/bin; else
		echo "install-kube: Go is not installed (need go >= 1.24 on PATH)" >&2; exit 1; fi
fi

work=$(mktemp -d /tmp/secrun-kube-build.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
export GOFLAGS=-trimpath GOWORK=off CGO_ENABLED=0

# Staging modules and the go/godebug lines come from k8s.io/kubernetes' own go.mod.
gomod=$(go mod download -json "k8s.io/kubernetes@${KUBE_VERSION}" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
[ -f "$gomod" ] || { echo "install-kube: cannot download k8s.io/kubernetes@${KUBE_VERSION}" >&2; exit 1; }
staging_version=v0.${KUBE_VERSION#v1.}
{
	echo "module secrun.local/kubebuild"
	echo
	grep -E '^(go|godebug) ' "$gomod"
	echo
	echo "require k8s.io/kubernetes ${KUBE_VERSION}"
	echo
	echo "replace ("
	sed -n 's|^[[:space:]]*\(k8s\.io/[^ ]*\) => \./staging/.*$|\t\1 => \1 '"$staging_version"'|p' "$gomod"
	echo ")"
} >go.mod

mkdir -p "$KUBE_DIR"
start=$(date +%s)
pkgs=()
for b in "${missing[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
# -mod=mod resolves and records the full requirement graph on the fly (no go.sum to start from).
nice -n 19 go build -mod=mod -ldflags "-s -w \
	-X k8s.io/component-base/version.gitVersion=${KUBE_VERSION} \
	-X k8s.io/component-base/version.gitMajor=1 \
	-X k8s.io/component-base/version.gitMinor=$(echo "$KUBE_VERSION" | cut -d. -f2) \
	-X k8s.io/client-go/pkg/version.gitVersion=${KUBE_VERSION}" \
	-o "$work/out/" "${pkgs[@]}"
for b in "${missing[@]}"; do install -m 0755 "$work/out/$b" "$KUBE_DIR/$b"; done
echo "install-kube: built ${missing[*]} ${KUBE_VERSION} in $(($(date +%s) - start))s into $KUBE_DIR"
