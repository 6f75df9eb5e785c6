#!/usr/bin/env bash
# Builds (once) a Debian bookworm root with real servers and their clients for
# secrun's integration tests (integration/servers_test.go), and prints its path.
# The root is cached under $SECRUN_SERVERS_CACHE keyed by suite and package list,
# so later runs reuse it: a build takes a minute or two, a reuse is instant.
# Needs root and apt (a fresh Debian machine is enough: mmdebstrap is installed
# when missing). Progress goes to stderr; stdout carries only the path.
set -euo pipefail

SUITE=${SECRUN_SERVERS_SUITE:-bookworm}
PKGS=${SECRUN_SERVERS_PKGS:-"redis-server redis-tools nginx-light python3 curl"}
CACHE=${SECRUN_SERVERS_CACHE:-/var/cache/secrun-test}

if [ "$(id -u)" != 0 ]; then
	echo "server-rootfs: needs root (mmdebstrap in root mode)" >&2; exit 1
fi
key=$(printf '%s\n' "$SUITE" "$(uname -m)" $PKGS | sha256sum | cut -c1-12)
root="$CACHE/servers-rootfs-$key"
if [ -f "$root/.secrun-complete" ]; then
	echo "$root"; exit 0
fi

mkdir -p "$CACHE"
# One build at a time; a second caller waits and then reuses the result.
exec 9>"$CACHE/servers-rootfs.lock"
flock 9
if [ -f "$root/.secrun-complete" ]; then
	echo "$root"; exit 0
fi

if ! command -v mmdebstrap >/dev/null 2>&1; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq --no-install-recommends mmdebstrap >&2 ||
		{ apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends mmdebstrap >&2; }
fi

# The machine's own apt sources (and so its mirror or proxy) are used: with no
# mirror argument mmdebstrap reads them.
tmp=$(mktemp -d "$CACHE/.servers-rootfs-build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
mmdebstrap --mode=root --variant=essential --quiet \
	--include="$(echo $PKGS | tr ' ' ,)" \
	--dpkgopt='path-exclude=/usr/share/man/*' \
	--dpkgopt='path-exclude=/usr/share/doc/*' \
	--dpkgopt='path-exclude=/usr/share/locale/*' \
	--customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*' \
	"$SUITE" "$tmp/root" >&2
printf '%s\n' $PKGS > "$tmp/root/.secrun-complete"
rm -rf "$root"
mv "$tmp/root" "$root"
echo "server-rootfs: built $root in $(( $(date +%s) - start ))s ($PKGS)" >&2
echo "$root"
