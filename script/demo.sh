#!/usr/bin/env bash
# Runs one busybox container through plain runc and the same one through
# secrun, and shows from inside each what the kernel lets it do.
set -euo pipefail
SECRUN=${SECRUN:-$(pwd)/bin/secrun}
RUNC=${RUNC:-$(command -v runc)}
work=$(mktemp -d /tmp/secrun-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/rootfs/bin" "$work/rootfs/proc" "$work/rootfs/dev" "$work/rootfs/sys"
cp "$(command -v busybox)" "$work/rootfs/bin/busybox"
for a in sh grep unshare cat; do ln -s busybox "$work/rootfs/bin/$a"; done

# The spec containerd writes for an ordinary pod: Docker's 14 capabilities,
# no seccomp profile, no no-new-privileges.
caps='"CAP_AUDIT_WRITE","CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_FOWNER","CAP_FSETID","CAP_KILL","CAP_MKNOD","CAP_NET_BIND_SERVICE","CAP_NET_RAW","CAP_SETFCAP","CAP_SETGID","CAP_SETPCAP","CAP_SETUID","CAP_SYS_CHROOT"'
write_bundle() {
	mkdir -p "$work/$1"
	cat > "$work/$1/config.json" <<JSON
{
	"ociVersion": "1.0.2",
	"process": {
		"terminal": false, "user": {"uid": 0, "gid": 0}, "cwd": "/",
		"args": ["sh", "-c", "grep -E '^(Seccomp|CapEff|NoNewPrivs):' /proc/self/status; unshare -U true 2>/dev/null && echo 'unshare(CLONE_NEWUSER): allowed' || echo 'unshare(CLONE_NEWUSER): Operation not permitted'"],
		"env": ["PATH=/bin"],
		"capabilities": {"bounding": [$caps], "effective": [$caps], "permitted": [$caps]}
	},
	"root": {"path": "$work/rootfs", "readonly": true},
	"mounts": [
		{"destination": "/proc", "type": "proc", "source": "proc"},
		{"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755", "size=65536k"]},
		{"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}
	],
	"linux": {"namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "network"}], "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list"], "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"]}
}
JSON
}
write_bundle plain
write_bundle confined

echo "== plain runc ($("$RUNC" --version | head -1))"
"$RUNC" --root "$work/state" run --bundle "$work/plain" demo-plain
echo
echo "== secrun run (same spec; secrun rewrites it, then execs runc)"
SECRUN_RUNTIME="$RUNC" "$SECRUN" explain --bundle "$work/confined" | sed 's/^/   /'
SECRUN_RUNTIME="$RUNC" "$SECRUN" --root "$work/state" run --bundle "$work/confined" demo-secrun
echo
echo "CapEff 00000000a80425fb = Docker's 14 capabilities; 00000000a80405fb = the same without CAP_NET_RAW."
