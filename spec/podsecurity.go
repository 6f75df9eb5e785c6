package spec

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/secrun/secrun/profiles"
)

// Pod Security Standards, checked on the final OCI spec: a second line
// behind admission (static pods, ctr/nerdctl, mislabelled namespaces,
// webhooks that failed open).
const (
	PSSBaseline   = "baseline"
	PSSRestricted = "restricted"
	PSSOff        = "off"
)

// PodSecurity is the Pod Security part of a policy.
type PodSecurity struct {
	Level string   // baseline | restricted | off
	Mode  string   // enforce | warn
	Allow []string // check names exempted (from the node config or a rule)
}

// Violation is one failed check: which, where in the spec, what value.
type Violation struct{ Check, Field, Value string }

func (v Violation) String() string { return fmt.Sprintf("%s: %s = %s", v.Check, v.Field, v.Value) }

// PSSChecks lists the checks by name, for docs and config validation.
var PSSChecks = []string{
	"host-pid", "host-ipc", "host-network", "privileged", "capabilities", "host-path",
	"proc-mount", "sysctls", "seccomp", "run-as-root", "privilege-escalation",
}

// Sysctls the Pod Security Standards call safe (namespaced, isolated).
var safeSysctls = []string{
	"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
	"net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
	"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
	"net.ipv4.tcp_keepalive_probes",
}

// Host paths a bind mount must not expose: the path, anything under it, and
// any of its parents (mounting /var exposes /var/run/docker.sock).
var sensitiveTrees = []string{
	"/proc", "/sys", "/etc", "/dev", "/boot", "/root", "/var/lib/kubelet/pki",
	"/var/run/docker.sock", "/run/docker.sock", "/run/containerd/containerd.sock",
	"/var/run/containerd/containerd.sock", "/run/crio/crio.sock", "/var/run/crio/crio.sock",
}

// Directories whose subdirectories runtimes and kubelet themselves mount
// into every pod (volumes, hosts files, shm): only the directory itself and
// its parents are sensitive.
var sensitiveDirs = []string{"/var/lib/kubelet", "/var/lib/containerd", "/var/lib/docker", "/run/containerd", "/var/run/containerd"}

// CheckPodSecurity returns the violations of level in s.
func CheckPodSecurity(s *specs.Spec, level string) []Violation {
	if level == PSSOff {
		return nil
	}
	var v []Violation
	add := func(check, field, value string) { v = append(v, Violation{check, field, value}) }
	var linux specs.Linux
	if s.Linux != nil {
		linux = *s.Linux
	}
	for _, ns := range []struct {
		typ   specs.LinuxNamespaceType
		check string
	}{{specs.PIDNamespace, "host-pid"}, {specs.IPCNamespace, "host-ipc"}, {specs.NetworkNamespace, "host-network"}} {
		i := slices.IndexFunc(linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == ns.typ })
		switch {
		case i < 0:
			add(ns.check, "linux.namespaces", fmt.Sprintf("no %s namespace (shares the host's)", ns.typ))
		case strings.HasPrefix(linux.Namespaces[i].Path, "/proc/1/"):
			add(ns.check, "linux.namespaces", fmt.Sprintf("%s namespace path %s (the host's)", ns.typ, linux.Namespaces[i].Path))
		}
	}
	if linux.Resources != nil {
		for _, d := range linux.Resources.Devices {
			if d.Allow && (d.Type == "" || d.Type == "a") && d.Major == nil && d.Minor == nil {
				add("privileged", "linux.resources.devices", "allows every device")
			}
		}
	}
	if len(linux.MaskedPaths) == 0 {
		add("proc-mount", "linux.maskedPaths", "empty (/proc unmasked)")
	}
	var asked []string
	if c := s.Process.Capabilities; c != nil {
		asked = c.Bounding
	}
	allowed := profiles.Stock
	if level == PSSRestricted {
		allowed = []string{"CAP_NET_BIND_SERVICE"}
	}
	for _, n := range asked {
		if !slices.Contains(allowed, n) && (level == PSSRestricted || !slices.Contains(profiles.Baseline, n)) {
			add("capabilities", "process.capabilities.bounding", n)
		}
	}
	for _, m := range s.Mounts {
		if m.Type != "bind" && !slices.Contains(m.Options, "bind") && !slices.Contains(m.Options, "rbind") {
			continue
		}
		if sensitiveHostPath(m.Source) {
			add("host-path", "mounts", fmt.Sprintf("%s -> %s", m.Source, m.Destination))
		}
	}
	for k := range linux.Sysctl {
		if !slices.Contains(safeSysctls, k) {
			add("sysctls", "linux.sysctl", k)
		}
	}
	if linux.Seccomp == nil {
		add("seccomp", "linux.seccomp", "absent (Unconfined)")
	}
	if level == PSSRestricted {
		if s.Process.User.UID == 0 {
			add("run-as-root", "process.user.uid", "0")
		}
		if !s.Process.NoNewPrivileges {
			add("privilege-escalation", "process.noNewPrivileges", "false")
		}
	}
	slices.SortStableFunc(v, func(a, b Violation) int { return strings.Compare(a.Check, b.Check) })
	return v
}

func sensitiveHostPath(src string) bool {
	src = filepath.Clean(src)
	under := func(p, dir string) bool { return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/") }
	for _, t := range sensitiveTrees {
		if under(src, t) || under(t, src) {
			return true
		}
	}
	for _, d := range sensitiveDirs {
		if under(d, src) {
			return true
		}
	}
	return false
}

// podSecurityStep runs last, on the spec as the runtime will see it.
func (p *Policy) podSecurityStep(s *specs.Spec) ([]string, error) {
	ps := p.PodSecurity
	if ps.Level == "" || ps.Level == PSSOff {
		return nil, nil
	}
	var failed []string
	for _, v := range CheckPodSecurity(s, ps.Level) {
		if !slices.Contains(ps.Allow, v.Check) {
			failed = append(failed, v.String())
		}
	}
	if len(failed) == 0 {
		return []string{fmt.Sprintf("note: podsecurity: %s checks pass", ps.Level)}, nil
	}
	msg := fmt.Sprintf("pod security level %q: %s (to allow a check for this workload, list its name in [podsecurity] allow of a rule in %s)", ps.Level, strings.Join(failed, "; "), p.Source)
	if ps.Mode == "warn" {
		return []string{"warning: " + msg}, nil
	}
	return nil, refuse("%s", msg)
}
