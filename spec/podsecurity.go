package spec

import (
	"fmt"
	"os"
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
	// HooksAllow lists the hook executables the node trusts (absolute).
	HooksAllow []string
	// Bundle is the bundle directory: relative mount sources and root.path
	// are relative to it, as runc and crun resolve them. Empty: the
	// working directory (the runtime's default bundle).
	Bundle string
	// HostDirs are more host trees no mount may expose: secrun's own
	// directories from the node config, the runtime's --root.
	HostDirs []string
}

// Violation is one failed check: which, where in the spec, what value.
type Violation struct{ Check, Field, Value string }

func (v Violation) String() string { return fmt.Sprintf("%s: %s = %s", v.Check, v.Field, v.Value) }

// PodSecurityChecks lists the checks by name, for docs and config
// validation (a copy).
func PodSecurityChecks() []string { return slices.Clone(pssChecks) }

var pssChecks = []string{
	"host-pid", "host-ipc", "host-network", "privileged", "capabilities", "host-path",
	"proc-mount", "sysctls", "seccomp", "run-as-root", "privilege-escalation",
	"host-mount", "hooks", "devices", "scheduling",
}

// Sysctls the Pod Security Standards call safe (namespaced, isolated).
var safeSysctls = []string{
	"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
	"net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
	"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
	"net.ipv4.tcp_keepalive_probes",
}

// Paths the runtimes' defaults mask (containerd, Docker, kubelet and
// `runc spec` all list these): a list without them leaves the host's kernel
// memory, keys and firmware readable, as an empty one does.
var requiredMasked = []string{
	"/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
	"/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
}

// Paths the runtimes' defaults make read-only: a writable /proc/sys sets
// host-wide sysctls, /proc/sysrq-trigger reboots the host.
var requiredReadonly = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}

// CheckPodSecurity returns the violations of ps.Level in s.
func CheckPodSecurity(s *specs.Spec, ps PodSecurity) []Violation {
	level := ps.Level
	if level == PSSOff {
		return nil
	}
	var v []Violation
	add := func(check, field, value string) { v = append(v, Violation{check, field, value}) }
	var linux specs.Linux
	if s.Linux != nil {
		linux = *s.Linux
	}
	namespaceViolations(linux.Namespaces, add)
	deviceViolations(&linux, add)
	netDeviceViolations(&linux, add)
	schedulingViolations(s.Process, add)
	procMountViolations(s.Mounts, &linux, add)
	var asked []string
	if c := s.Process.Capabilities; c != nil {
		asked = c.Bounding
	}
	allowed := profiles.StockCaps()
	if level == PSSRestricted {
		allowed = []string{"CAP_NET_BIND_SERVICE"}
	}
	for _, n := range asked {
		if !slices.Contains(allowed, n) && (level == PSSRestricted || !slices.Contains(profiles.BaselineCaps(), n)) {
			add("capabilities", "process.capabilities.bounding", n)
		}
	}
	bundle := ps.Bundle
	if bundle == "" {
		bundle, _ = os.Getwd()
	}
	h := hostPaths{bundle: bundle, extra: ps.HostDirs}
	h.mountViolations(s.Mounts, add)
	h.rootViolation(s.Root, add)
	hookViolations(s.Hooks, ps.HooksAllow, add)
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

// procMountViolations: baseline's "proc-mount" check asks for the default
// masking of /proc. A list that lacks the defaults, a second procfs or
// sysfs mounted outside the masked paths, or a writable sysfs in the host's
// user namespace all leave the host's kernel knobs open.
func procMountViolations(mounts []specs.Mount, linux *specs.Linux, add func(check, field, value string)) {
	covered := func(list []string, p string) bool {
		return slices.ContainsFunc(list, func(e string) bool { return under(p, strings.TrimRight(e, "/")) && e != "" })
	}
	if len(linux.MaskedPaths) == 0 {
		add("proc-mount", "linux.maskedPaths", "empty (/proc unmasked)")
	} else {
		var missing []string
		for _, p := range requiredMasked {
			if !covered(linux.MaskedPaths, p) {
				missing = append(missing, p)
			}
		}
		if len(missing) > 0 {
			add("proc-mount", "linux.maskedPaths", "lacks "+strings.Join(missing, ", ")+" (the runtime default masks them)")
		}
	}
	var missing []string
	for _, p := range requiredReadonly {
		if !covered(linux.ReadonlyPaths, p) && !covered(linux.MaskedPaths, p) {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		add("proc-mount", "linux.readonlyPaths", "lacks "+strings.Join(missing, ", ")+" (the runtime default makes them read-only)")
	}
	userns := slices.ContainsFunc(linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.UserNamespace })
	for i, m := range mounts {
		field := fmt.Sprintf("mounts[%d]", i)
		dest := filepath.Clean("/" + m.Destination) // runtimes take a relative destination as under /
		switch {
		case m.Type == "proc" && dest != "/proc":
			add("proc-mount", field, fmt.Sprintf("proc mounted at %s, outside the masked /proc", m.Destination))
		case m.Type == "sysfs" && dest != "/sys":
			add("proc-mount", field, fmt.Sprintf("sysfs mounted at %s, outside the masked /sys", m.Destination))
		case m.Type == "sysfs" && !userns && !readOnly(m.Options):
			add("proc-mount", field, "sysfs mounted read-write (the host's /sys/kernel knobs; add \"ro\")")
		}
	}
}

// readOnly: the last of "ro" and "rw" wins, as the runtimes parse options.
func readOnly(opts []string) bool {
	ro := false
	for _, o := range opts {
		switch o {
		case "ro":
			ro = true
		case "rw":
			ro = false
		}
	}
	return ro
}

// podSecurity runs the Pod Security checks on the spec as the runtime will
// see it; violations not exempted refuse the spec, or in warn mode become a
// Warning.
type podSecurity struct{ p *Policy }

func (m podSecurity) Modify(s *specs.Spec) ([]Change, error) {
	p := m.p
	ps := p.PodSecurity
	if ps.Level == "" || ps.Level == PSSOff {
		return nil, nil
	}
	var failed []string
	for _, v := range CheckPodSecurity(s, ps) {
		if !slices.Contains(ps.Allow, v.Check) {
			failed = append(failed, v.String())
		}
	}
	if len(failed) == 0 {
		return []Change{note("podsecurity", "%s checks pass", ps.Level)}, nil
	}
	msg := fmt.Sprintf("pod security level %q: %s (to allow a check for this workload, list its name in [podsecurity] allow of a rule in %s)", ps.Level, strings.Join(failed, "; "), p.Source)
	if ps.Mode == "warn" {
		return []Change{{Step: "podsecurity", Kind: Warning, Msg: msg}}, nil
	}
	return nil, refuse("%s", msg)
}

// execPodSecurity holds an exec'd process to the Pod Security checks that
// are about a process rather than the container's shape: under restricted,
// no process runs as root (`exec --user 0`, or a process file with uid 0).
type execPodSecurity struct{ p *Policy }

func (m execPodSecurity) Modify(s *specs.Spec) ([]Change, error) {
	ps := m.p.PodSecurity
	if ps.Level != PSSRestricted || slices.Contains(ps.Allow, "run-as-root") || s.Process.User.UID != 0 {
		return nil, nil
	}
	msg := fmt.Sprintf("pod security level %q: run-as-root: the exec'd process runs as uid 0 (to allow it for this workload, list \"run-as-root\" in [podsecurity] allow of a rule in %s)", ps.Level, m.p.Source)
	if ps.Mode == "warn" {
		return []Change{{Step: "podsecurity", Kind: Warning, Msg: msg}}, nil
	}
	return nil, refuse("%s", msg)
}

// CheckExecUser holds an exec's --user to the same check as a process file.
func (p *Policy) CheckExecUser(uid uint32) error {
	_, err := (execPodSecurity{p}).Modify(&specs.Spec{Process: &specs.Process{User: specs.User{UID: uid}}})
	return err
}
