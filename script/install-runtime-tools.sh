#!/usr/bin/env bash
# Builds the conformance suites integration/conformance*_test.go run, from
# the Go module proxy; nothing of them is copied into this repository: a
# throw-away module requires the pinned version and builds its packages.
# Idempotent: a suite already built is not built again.
#
# 1. The OCI runtime-tools validation suite: one TAP-printing program per
#    validation/<name>/, plus runtimetest, the static checker those programs
#    run inside the container. Cached in
#    /opt/secrun-test/runtime-tools-<version>/ (bin/<name>.t, runtimetest,
#    rootfs-<arch>.tar.gz, the list of programs in tests).
# 2. cri-tools' critest (a Go test binary: `go test -c`, not `go install`),
#    next to crictl in /opt/secrun-test/bin.
set -euo pipefail

# The pseudo-version containerd 2.x requires (runtime-tools has no release with
# runtime-spec 1.3).
RT_VERSION=${RUNTIME_TOOLS_VERSION:-v0.9.1-0.20251114084447-edf4cb3d2116}
CRITEST_VERSION=${CRICTL_VERSION:-v1.34.0}
# Next to the pinned tools' directory (SECRUN_TOOLS, as install-deps.sh).
TOOLS=${SECRUN_TOOLS:-/opt/secrun-test/bin}
OUT=${SECRUN_RUNTIME_TOOLS_DIR:-$(dirname "$TOOLS")/runtime-tools-${RT_VERSION}}
MOD=github.com/opencontainers/runtime-tools

command -v go >/dev/null 2>&1 || export PATH=$PATH:/usr/local/go/bin
# -mod=mod: resolve each suite's own requirements into the throw-away
# module's go.sum (a dependency's vendor/ directory is ignored).
export GOFLAGS=-mod=mod

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# newmod DIR MODULE VERSION: a module in DIR that requires MODULE@VERSION.
newmod() {
	mkdir -p "$1"
	printf 'module secrun.test/conformance-build\n\ngo 1.21\n\nrequire %s %s\n' "$2" "$3" > "$1/go.mod"
}

if [ ! -x "$TOOLS/critest" ]; then
	newmod "$work/critest" sigs.k8s.io/cri-tools "$CRITEST_VERSION"
	mkdir -p "$TOOLS"
	(cd "$work/critest" && CGO_ENABLED=0 go test -c -trimpath -ldflags '-s -w' -o "$TOOLS/critest.tmp" sigs.k8s.io/cri-tools/cmd/critest)
	mv "$TOOLS/critest.tmp" "$TOOLS/critest"
fi

if [ -f "$OUT/.complete" ]; then
	echo "install-runtime-tools: ok ($OUT, $TOOLS/critest)"
	exit 0
fi
newmod "$work/rt" "$MOD" "$RT_VERSION"
cd "$work/rt"
arch=$(go env GOARCH)
src=$(go mod download -json "$MOD@$RT_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$src/validation" ] || { echo "install-runtime-tools: no validation/ in $MOD@$RT_VERSION ($src)" >&2; exit 1; }

tests=()
for d in "$src"/validation/*/; do
	name=$(basename "$d")
	[ "$name" = util ] && continue
	tests+=("$name")
done
rm -rf "$OUT.tmp"
mkdir -p "$OUT.tmp/bin"
# One `go build` per package so each binary gets the upstream name <name>.t;
# the shared packages compile once (the build cache).
for name in "${tests[@]}"; do
	go build -trimpath -ldflags '-s -w' -o "$OUT.tmp/bin/$name.t" "$MOD/validation/$name"
done
# runtimetest runs inside the test rootfs (busybox): static, as upstream's
# Makefile builds it.
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -tags 'netgo osusergo' -o "$OUT.tmp/runtimetest" "$MOD/cmd/runtimetest"
install -m 0644 "$src/rootfs-$arch.tar.gz" "$OUT.tmp/rootfs-$arch.tar.gz"
printf '%s\n' "${tests[@]}" > "$OUT.tmp/tests"
touch "$OUT.tmp/.complete"
rm -rf "$OUT"
mv "$OUT.tmp" "$OUT"
echo "install-runtime-tools: ok (${#tests[@]} validation tests in $OUT, $TOOLS/critest)"
