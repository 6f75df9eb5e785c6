// Package profiles holds secrun's embedded defaults (capability sets, the
// seccomp levels built on Docker's default profile, the AppArmor template)
// and the tooling that combines and checks profiles.
package profiles

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/moby/sys/capability"
)

// StockCaps is the capability set Docker and containerd give every
// container unless told otherwise. Dropping these is quiet: every ordinary
// pod asks. (A fresh copy: the policy's tables are not the caller's to edit.)
func StockCaps() []string { return slices.Clone(stock) }

// BaselineCaps is the Pod Security Standards baseline allowlist without
// CAP_NET_RAW (raw sockets are the usual way to spoof on a pod network).
func BaselineCaps() []string { return slices.Clone(baseline) }

var stock = []string{
	"CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_MKNOD", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SETFCAP",
	"CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT",
}

var baseline = []string{
	"CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_MKNOD", "CAP_NET_BIND_SERVICE", "CAP_SETFCAP",
	"CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT",
}

// known maps every capability name this kernel library knows, in OCI form.
// Built on first use: state, kill and delete never need it.
var known = sync.OnceValue(func() map[string]bool {
	m := map[string]bool{}
	for _, c := range capability.ListKnown() {
		m["CAP_"+strings.ToUpper(c.String())] = true
	}
	return m
})

// AllCaps returns every capability name known, in OCI form.
func AllCaps() []string {
	out := make([]string, 0, len(known()))
	for _, c := range capability.ListKnown() {
		out = append(out, "CAP_"+strings.ToUpper(c.String()))
	}
	return out
}

// CanonicalCap returns the OCI name (CAP_X) for "CAP_X", "cap_x" or "X".
func CanonicalCap(name string) (string, error) {
	n := strings.ToUpper(strings.TrimSpace(name))
	if !strings.HasPrefix(n, "CAP_") {
		n = "CAP_" + n
	}
	if !known()[n] {
		return "", fmt.Errorf("unknown capability %q", name)
	}
	return n, nil
}

// IsCap reports whether name is a known capability in OCI form.
func IsCap(name string) bool { return known()[name] }
