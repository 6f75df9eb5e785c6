#!/usr/bin/env bash
# Builds the OCI runtime-tools validation suite (one TAP-printing program per
# validation/<name>/, plus runtimetest, the static checker those programs run
# inside the container) from the Go module cache, for
# integration/conformance_test.go. Nothing of runtime-tools is copied into this
# repository: a throw-away module requires the pinned version and builds its
# packages. Idempotent: the result is cached in
# /opt/secrun-test/runtime-tools-<version>/ (bin/<name>.t, runtimetest,
# rootfs-<arch>.tar.gz, the list of programs in tests) and a complete
# directory is never rebuilt.
set -euo pipefail

# The pseudo-version containerd 2.x requires (runtime-tools has no release with
# runtime-spec 1.3).
RT_VERSION=${RUNTIME_TOOLS_VERSION:-v0.9.1-0.20251114084447-edf4cb3d2116}
# Next to the pinned tools' directory (SECRUN_TOOLS, as install-deps.sh).
TOOLS=${SECRUN_TOOLS:-/opt/secrun-test/bin}
OUT=${SECRUN_RUNTIME_TOOLS_DIR:-$(dirname "$TOOLS")/runtime-tools-${RT_VERSION}}
MOD=github.com/opencontainers/runtime-tools

if [ -f "$OUT/.complete" ]; then
	echo "install-runtime-tools: ok ($OUT)"
	exit 0
fi
command -v go >/dev/null 2>&1 || export PATH=$PATH:/usr/local/go/bin
arch=$(go env GOARCH)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
cat > go.mod <<EOF
module secrun.test/runtime-tools-build

go 1.21

require $MOD $RT_VERSION
EOF
# GOFLAGS=-mod=mod: resolve runtime-tools' own requirements into this
# module's go.sum (its vendor/ directory is ignored for a dependency).
export GOFLAGS=-mod=mod
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
echo "install-runtime-tools: ok (${#tests[@]} validation tests in $OUT)"
