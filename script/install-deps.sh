#!/usr/bin/env bash
# Installs everything secrun's build, demo and tests need on a fresh Debian/Ubuntu machine (as root).
# Idempotent: each step is skipped when its result is already present.
set -euo pipefail

RUNC_VERSION=${RUNC_VERSION:-v1.5.2}
CONTAINERD_VERSION=${CONTAINERD_VERSION:-v2.2.1}
CRICTL_VERSION=${CRICTL_VERSION:-v1.34.0}
# Pinned tools built from the Go module proxy land here, away from the distro's binaries.
TOOLS=${SECRUN_TOOLS:-/opt/secrun-test/bin}

need_pkgs=()
for p in runc crun containerd libseccomp-dev busybox-static apparmor strace gcc make pkg-config; do
	dpkg -s "$p" >/dev/null 2>&1 || need_pkgs+=("$p")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

if ! command -v go >/dev/null 2>&1; then
	if [ -x /usr/local/go/bin/go ]; then export PATH=$PATH:/usr/local/go/bin; else
		echo "install-deps: Go is not installed (need go >= 1.26 on PATH)" >&2; exit 1; fi
fi

mkdir -p "$TOOLS"
gobuild() { # gobuild NAME PKG@VERSION [tags]
	local name=$1 pkg=$2 tags=${3:-}
	[ -x "$TOOLS/$name" ] && return 0
	GOBIN="$TOOLS" CGO_ENABLED=1 go install ${tags:+-tags "$tags"} "$pkg"
}
gobuild runc "github.com/opencontainers/runc@${RUNC_VERSION}" seccomp
gobuild containerd "github.com/containerd/containerd/v2/cmd/containerd@${CONTAINERD_VERSION}"
gobuild containerd-shim-runc-v2 "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@${CONTAINERD_VERSION}"
gobuild ctr "github.com/containerd/containerd/v2/cmd/ctr@${CONTAINERD_VERSION}"
gobuild crictl "sigs.k8s.io/cri-tools/cmd/crictl@${CRICTL_VERSION}"

# The OCI runtime-tools validation suite (integration/conformance_test.go).
SECRUN_TOOLS="$TOOLS" bash "$(dirname "$0")/install-runtime-tools.sh"

# crun needs the hugetlb controller on cgroup v1 in this hybrid layout.
if [ -d /sys/fs/cgroup/memory ] && ! grep -qE '^cgroup [^ ]+ cgroup [^ ]*hugetlb' /proc/mounts; then
	mkdir -p /sys/fs/cgroup/hugetlb 2>/dev/null || true
	mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb 2>/dev/null || true
fi
# The Debian root with redis and nginx that integration/servers_test.go runs (cached; ~25 s once).
bash "$(dirname "$0")/server-rootfs.sh" >/dev/null
# etcd, kube-apiserver, kubelet and kubectl for the Kubernetes tests (a long build the first time).
bash "$(dirname "$0")/install-kube.sh"

echo "install-deps: ok (pinned tools in $TOOLS)"
