package spec

import (
	"fmt"
	"os"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// hostNamespaces are the namespace types the checks cover: sharing one of
// these with the host, by leaving it out or by joining the host's through a
// path, fails the check. (The host's user, cgroup, uts and time namespaces
// are what a container without them has anyway, and harmless without
// CAP_SYS_ADMIN.)
var hostNamespaces = []struct {
	typ   specs.LinuxNamespaceType
	proc  string // the name under /proc/PID/ns
	check string
}{
	{specs.PIDNamespace, "pid", "host-pid"},
	{specs.IPCNamespace, "ipc", "host-ipc"},
	{specs.NetworkNamespace, "net", "host-network"},
	{specs.MountNamespace, "mnt", "host-mount"},
}

// sameNamespace reports whether the namespace file path names the
// namespace /proc/self/ns/name does: secrun runs in the host's namespaces
// (as the runtime it execs), so this is "is it the host's". Comparing the
// namespace itself, not the path, catches /proc/2/ns/pid, /proc/self/...,
// bind-mounted copies; CRI's /proc/<pause>/ns/net and /var/run/netns/cni-...
// name other namespaces and pass.
func sameNamespace(path, name string) (bool, error) {
	var want, got syscall.Stat_t
	if err := syscall.Stat("/proc/self/ns/"+name, &want); err != nil {
		return false, err
	}
	if err := syscall.Stat(path, &got); err != nil {
		return false, err
	}
	return want.Dev == got.Dev && want.Ino == got.Ino, nil
}

func namespaceViolations(namespaces []specs.LinuxNamespace, add func(check, field, value string)) {
	for _, ns := range hostNamespaces {
		found := false
		for i, n := range namespaces {
			if n.Type != ns.typ {
				continue
			}
			found = true
			if n.Path == "" {
				continue
			}
			field := fmt.Sprintf("linux.namespaces[%d].path", i)
			same, err := sameNamespace(n.Path, ns.proc)
			switch {
			case strings.HasPrefix(n.Path, "/proc/1/") || same:
				add(ns.check, field, fmt.Sprintf("%s namespace path %s (the host's)", ns.typ, n.Path))
			case err != nil:
				// Fail closed: what secrun cannot look at, it cannot vouch for.
				add(ns.check, field, fmt.Sprintf("%s namespace path %s cannot be checked: %v", ns.typ, n.Path, err))
			}
		}
		if !found {
			add(ns.check, "linux.namespaces", fmt.Sprintf("no %s namespace (shares the host's)", ns.typ))
		}
	}
}

// statOwner returns a file's owner and mode, following links.
func statOwner(p string) (uid uint32, mode os.FileMode, err error) {
	fi, err := os.Stat(p)
	if err != nil {
		return 0, 0, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, fmt.Errorf("%s: no owner information", p)
	}
	return st.Uid, fi.Mode(), nil
}
