package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/secrun/secrun/profiles"
)

// A sysCall is one system call a primitive makes, with the arguments
// Docker's profile filters on (clone's flags, socket's domain,
// personality's persona); the others are zero.
type sysCall struct {
	name string
	args [6]uint64
}

func call(name string, args ...uint64) sysCall {
	c := sysCall{name: name}
	copy(c.args[:], args)
	return c
}

// Host settings that make a kernel with no seccomp filter refuse a primitive
// on its own. A contrast primitive names the one that may explain an EPERM
// under containerd's default; with none named, the primitive must get past
// the filter-less kernel on any host.
const (
	gateUserns  = "userns"
	gateBPF     = "bpf"
	gateIOUring = "io_uring"
	gatePerf    = "perf"
	gateNone    = "-"
)

// escapePrimitive is one probe primitive (integration/testdata/probe.c, each
// called with harmless arguments) and what secrun's levels must make of it.
type escapePrimitive struct {
	name  string    // the probe's name for it
	tried string    // what it calls, for the table
	calls []sysCall // the system calls that matter to seccomp, in order
	// def and restricted are the results secrun's runtime-default and
	// restricted levels must give; "" leaves it to the kernel.
	def, restricted string
	// contrast: under containerd's default (no seccomp, 14 capabilities)
	// the primitive must not fail with EPERM, so that the EPERM under
	// secrun is secrun's doing. The value names the host setting that may
	// excuse a refusal (gateNone: nothing does); "" asserts nothing.
	contrast string
	why      string // why secrun's levels give what they give
}

// escapeSuite lists every probe primitive. It is checked against `probe list`.
var escapeSuite = []escapePrimitive{
	{name: "getppid", tried: "getppid()", calls: []sysCall{call("getppid")}, def: "ok", restricted: "ok",
		why: "control: an ordinary call every level allows"},

	// Namespaces: a user namespace hands out a full capability set over
	// namespaces it owns, the start of most unprivileged kernel exploits.
	{name: "unshare-user", tried: "unshare(CLONE_NEWUSER)", calls: []sysCall{call("unshare", unix.CLONE_NEWUSER)},
		def: "EPERM", restricted: "EPERM", contrast: gateUserns,
		why: "seccomp: Docker's profile allows unshare only with CAP_SYS_ADMIN"},
	{name: "unshare-mount", tried: "unshare(CLONE_NEWNS)", calls: []sysCall{call("unshare", unix.CLONE_NEWNS)},
		def: "EPERM", restricted: "EPERM",
		why: "seccomp (unshare needs CAP_SYS_ADMIN); the kernel wants CAP_SYS_ADMIN too"},
	{name: "unshare-net", tried: "unshare(CLONE_NEWNET)", calls: []sysCall{call("unshare", unix.CLONE_NEWNET)},
		def: "EPERM", restricted: "EPERM",
		why: "seccomp (unshare needs CAP_SYS_ADMIN); the kernel wants CAP_SYS_ADMIN too"},
	{name: "setns", tried: "setns(-1, 0)", calls: []sysCall{call("setns")},
		def: "EPERM", restricted: "EPERM", contrast: gateNone,
		why: "seccomp: setns needs CAP_SYS_ADMIN in Docker's profile (without a filter the bad fd gives EBADF)"},
	{name: "clone-newuser", tried: "clone(CLONE_NEWUSER|SIGCHLD), child exits", calls: []sysCall{call("clone", unix.CLONE_NEWUSER|uint64(unix.SIGCHLD))},
		def: "EPERM", restricted: "EPERM", contrast: gateUserns,
		why: "seccomp: Docker's profile allows clone only without namespace flags unless CAP_SYS_ADMIN"},
	{name: "clone3-newuser", tried: "clone3({flags: CLONE_NEWUSER}), child exits", calls: []sysCall{call("clone3")},
		def: "ENOSYS", restricted: "ENOSYS", contrast: gateUserns,
		why: "seccomp: clone3's flags are behind a pointer, so the profile answers ENOSYS and libc falls back to clone"},

	// Mounts, old API and new (fsopen is the first step of CVE-2022-0185).
	{name: "mount", tried: `mount("none", fresh dir, "tmpfs"), then umount`, calls: []sysCall{call("mount")},
		def: "EPERM", restricted: "EPERM",
		why: "seccomp (mount needs CAP_SYS_ADMIN); the kernel wants CAP_SYS_ADMIN too"},
	{name: "userns-mount", tried: "unshare(CLONE_NEWUSER|CLONE_NEWNS), then the same mount", calls: []sysCall{call("unshare", unix.CLONE_NEWUSER|unix.CLONE_NEWNS), call("mount")},
		def: "EPERM", restricted: "EPERM", contrast: gateUserns,
		why: "seccomp: unshare (and mount) need CAP_SYS_ADMIN in Docker's profile, so no namespace to mount in"},
	{name: "fsopen", tried: `fsopen("tmpfs"), closed`, calls: []sysCall{call("fsopen")},
		def: "EPERM", restricted: "EPERM",
		why: "seccomp (the new mount API needs CAP_SYS_ADMIN); the kernel wants CAP_SYS_ADMIN too"},
	{name: "userns-fsopen", tried: `unshare(CLONE_NEWUSER|CLONE_NEWNS), then fsopen("tmpfs")`, calls: []sysCall{call("unshare", unix.CLONE_NEWUSER|unix.CLONE_NEWNS), call("fsopen")},
		def: "EPERM", restricted: "EPERM", contrast: gateUserns,
		why: "seccomp: unshare and fsopen need CAP_SYS_ADMIN in Docker's profile"},
	{name: "open-tree", tried: "open_tree(fresh dir, OPEN_TREE_CLONE), closed", calls: []sysCall{call("open_tree")},
		def: "EPERM", restricted: "EPERM",
		why: "seccomp: open_tree needs CAP_SYS_ADMIN in Docker's profile"},
	{name: "move-mount", tried: `move_mount(-1, "", -1, "")`, calls: []sysCall{call("move_mount")},
		def: "EPERM", restricted: "EPERM",
		why: "seccomp: move_mount needs CAP_SYS_ADMIN in Docker's profile"},
	{name: "pivot-root", tried: "pivot_root(nonexistent, nonexistent)", calls: []sysCall{call("pivot_root")},
		def: "EPERM", restricted: "EPERM",
		why: "seccomp: pivot_root is not in Docker's profile at all"},
	{name: "chroot", tried: `chroot("/")`, calls: []sysCall{call("chroot")},
		def: "ok", restricted: "EPERM",
		why: "runtime-default keeps CAP_SYS_CHROOT; restricted drops it, and the profile resolved for that set drops chroot"},
	{name: "open-by-handle", tried: "open_by_handle_at(-1, NULL, 0)", calls: []sysCall{call("open_by_handle_at")},
		def: "EPERM", restricted: "EPERM",
		why: "seccomp: open_by_handle_at (the 2014 \"shocker\" escape) needs CAP_DAC_READ_SEARCH in Docker's profile"},
	{name: "name-to-handle", tried: `name_to_handle_at("/", 0-byte handle)`, calls: []sysCall{call("name_to_handle_at")},
		why: "allowed by Docker's profile: a handle is useless without open_by_handle_at"},
	{name: "mknod", tried: "mknod(/dev/shm/..., char 1:3), removed", calls: []sysCall{call("mknodat")},
		def: "ok", restricted: "EPERM",
		why: "runtime-default keeps CAP_MKNOD (the device cgroup still stops opening the node); restricted drops it and the kernel refuses"},

	// Keyrings are not namespaced: keys are shared with the host and every
	// other container of the same UID.
	{name: "keyctl", tried: "keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL)", calls: []sysCall{call("keyctl")},
		def: "EPERM", restricted: "EPERM", contrast: gateNone,
		why: "seccomp: keyctl is not in Docker's profile; restricted denies it by name as well"},
	{name: "add-key", tried: `add_key("user", ..., process keyring)`, calls: []sysCall{call("add_key")},
		def: "EPERM", restricted: "EPERM", contrast: gateNone,
		why: "seccomp: add_key is not in Docker's profile; restricted denies it by name as well"},
	{name: "request-key", tried: `request_key("user", absent, no callout)`, calls: []sysCall{call("request_key")},
		def: "EPERM", restricted: "EPERM", contrast: gateNone,
		why: "seccomp: request_key is not in Docker's profile; restricted denies it by name as well"},

	// bpf, perf, userfaultfd and io_uring: kernel attack surface that
	// exploits use to reach or to win races in kernel code.
	{name: "bpf-map", tried: "bpf(BPF_MAP_CREATE, zeroed attr)", calls: []sysCall{call("bpf")},
		def: "EPERM", restricted: "EPERM", contrast: gateBPF,
		why: "seccomp: bpf needs CAP_BPF or CAP_SYS_ADMIN in Docker's profile"},
	{name: "bpf-prog", tried: "bpf(BPF_PROG_LOAD, zeroed attr)", calls: []sysCall{call("bpf")},
		def: "EPERM", restricted: "EPERM",
		why: "seccomp: bpf needs CAP_BPF or CAP_SYS_ADMIN in Docker's profile"},
	{name: "perf-event", tried: "perf_event_open(task clock, self, user only), closed", calls: []sysCall{call("perf_event_open")},
		def: "EPERM", restricted: "EPERM", contrast: gatePerf,
		why: "seccomp: perf_event_open needs CAP_PERFMON or CAP_SYS_ADMIN in Docker's profile"},
	{name: "userfaultfd", tried: "userfaultfd(UFFD_USER_MODE_ONLY), closed", calls: []sysCall{call("userfaultfd")},
		def: "EPERM", restricted: "EPERM", contrast: gateNone,
		why: "seccomp: userfaultfd is not in Docker's profile; restricted denies it by name as well"},
	{name: "io-uring", tried: "io_uring_setup(1, zeroed params), closed", calls: []sysCall{call("io_uring_setup")},
		def: "EPERM", restricted: "EPERM", contrast: gateIOUring,
		why: "seccomp: io_uring_* left Docker's profile (moby 25); restricted denies them by name as well"},

	// Kernel modules, kexec, reboot.
	{name: "init-module", tried: `init_module(NULL, 0, "")`, calls: []sysCall{call("init_module")},
		def: "EPERM", restricted: "EPERM",
		why: "seccomp: init_module needs CAP_SYS_MODULE in Docker's profile"},
	{name: "finit-module", tried: `finit_module(-1, "", 0)`, calls: []sysCall{call("finit_module")},
		def: "EPERM", restricted: "EPERM",
		why: "seccomp: finit_module needs CAP_SYS_MODULE in Docker's profile"},
	{name: "delete-module", tried: "delete_module(absent, O_NONBLOCK)", calls: []sysCall{call("delete_module")},
		def: "EPERM", restricted: "EPERM",
		why: "seccomp: delete_module needs CAP_SYS_MODULE in Docker's profile"},
	{name: "kexec-load", tried: "kexec_load(0, 0xffff segments, NULL, no such arch)", calls: []sysCall{call("kexec_load")},
		def: "EPERM", restricted: "EPERM",
		why: "seccomp: kexec_load is not in Docker's profile at all"},
	{name: "reboot", tried: "reboot(magic, magic2, no such command)", calls: []sysCall{call("reboot")},
		def: "EPERM", restricted: "EPERM",
		why: "seccomp: reboot needs CAP_SYS_BOOT in Docker's profile"},

	// Sockets.
	{name: "socket-packet", tried: "socket(AF_PACKET, SOCK_RAW, 0), closed", calls: []sysCall{call("socket", unix.AF_PACKET)},
		def: "EPERM", restricted: "EPERM",
		why: "no CAP_NET_RAW: secrun drops it (Docker's profile allows AF_PACKET; the kernel refuses without the capability)"},
	{name: "socket-raw", tried: "socket(AF_INET, SOCK_RAW, IPPROTO_ICMP), closed", calls: []sysCall{call("socket", unix.AF_INET)},
		def: "EPERM", restricted: "EPERM",
		why: "no CAP_NET_RAW: secrun drops it, and the kernel refuses raw sockets without it"},
	{name: "socket-vsock", tried: "socket(AF_VSOCK, SOCK_STREAM, 0), closed", calls: []sysCall{call("socket", unix.AF_VSOCK)},
		def: "EPERM", restricted: "EPERM",
		why: "seccomp: Docker's profile allows socket only for its list of domains, which leaves out AF_VSOCK (host/guest sockets)"},
	{name: "socket-alg", tried: "socket(AF_ALG, SOCK_SEQPACKET, 0), closed", calls: []sysCall{call("socket", unix.AF_ALG)},
		def: "EPERM", restricted: "EPERM",
		why: "seccomp: Docker's domain list leaves out AF_ALG (the kernel crypto API)"},

	// Other processes' memory and the persona.
	{name: "ptrace", tried: "ptrace(PTRACE_ATTACH, absent pid)", calls: []sysCall{call("ptrace")},
		def: "ESRCH", restricted: "EPERM",
		why: "Docker's profile allows ptrace on kernels >= 4.8 (runtime-default: ESRCH, the pid is absent); restricted denies it"},
	{name: "process-vm-readv", tried: "process_vm_readv(self, 0 iovecs)", calls: []sysCall{call("process_vm_readv")},
		def: "ok", restricted: "EPERM",
		why: "allowed like ptrace by Docker's profile; restricted denies process_vm_readv/writev"},
	{name: "kcmp", tried: "kcmp(self, self, KCMP_VM)", calls: []sysCall{call("kcmp")},
		def: "EPERM", restricted: "EPERM",
		why: "seccomp: kcmp needs CAP_SYS_PTRACE in Docker's profile"},
	{name: "personality", tried: "personality(PER_LINUX32), restored", calls: []sysCall{call("personality", 0xffffffff), call("personality", 8)},
		def: "ok", restricted: "EPERM",
		why: "Docker's profile allows PER_LINUX32; restricted allows only the query personality(0xffffffff)"},

	// Clock, logs, accounting, swap, quotas, I/O ports, NUMA, fanotify.
	{name: "clock-settime", tried: "clock_settime(CLOCK_REALTIME, tv_nsec 2e9)", calls: []sysCall{call("clock_settime")},
		def: "EPERM", restricted: "EPERM",
		why: "seccomp: clock_settime needs CAP_SYS_TIME in Docker's profile (without a filter the bad time gives EINVAL)"},
	{name: "syslog", tried: "syslog(SYSLOG_ACTION_SIZE_BUFFER)", calls: []sysCall{call("syslog")},
		def: "EPERM", restricted: "EPERM",
		why: "seccomp: syslog needs CAP_SYSLOG or CAP_SYS_ADMIN in Docker's profile"},
	{name: "acct", tried: "acct(absent file)", calls: []sysCall{call("acct")},
		def: "EPERM", restricted: "EPERM",
		why: "seccomp: acct needs CAP_SYS_PACCT in Docker's profile"},
	{name: "swapoff", tried: "swapoff(absent file)", calls: []sysCall{call("swapoff")},
		def: "EPERM", restricted: "EPERM",
		why: "seccomp: swapoff is not in Docker's profile at all"},
	{name: "quotactl", tried: "quotactl(Q_GETFMT, absent device)", calls: []sysCall{call("quotactl")},
		def: "EPERM", restricted: "EPERM",
		why: "seccomp: quotactl needs CAP_SYS_ADMIN in Docker's profile"},
	{name: "iopl", tried: "iopl(0)", calls: []sysCall{call("iopl")},
		def: "EPERM", restricted: "EPERM",
		why: "seccomp: iopl needs CAP_SYS_RAWIO in Docker's profile"},
	{name: "get-mempolicy", tried: "get_mempolicy(NULL, NULL, 0, NULL, 0)", calls: []sysCall{call("get_mempolicy")},
		def: "EPERM", restricted: "EPERM",
		why: "seccomp: the NUMA calls need CAP_SYS_NICE in Docker's profile"},
	{name: "fanotify-init", tried: "fanotify_init(FAN_CLASS_NOTIF|FAN_REPORT_FID), closed", calls: []sysCall{call("fanotify_init")},
		def: "EPERM", restricted: "EPERM",
		why: "seccomp: fanotify_init needs CAP_SYS_ADMIN in Docker's profile"},
}

// escapeColumn is one configuration's run of the whole suite.
type escapeColumn struct {
	title   string
	status  map[string]string   // probe status and primitive results
	profile *specs.LinuxSeccomp // the seccomp profile the container ran with; nil for none
}

// seccompDenial returns the errno name the profile answers for the first of
// calls it does not let run, or "" when it lets them all run.
func seccompDenial(p *specs.LinuxSeccomp, calls []sysCall) string {
	if p == nil {
		return ""
	}
	for _, c := range calls {
		act := profiles.Evaluate(p, c.name, c.args)
		if profiles.Permissive(act) {
			continue
		}
		errno := p.DefaultErrnoRet
		// The rule that decided: the one with this action whose names and
		// arguments match (Evaluate on a profile of that rule alone).
		for _, r := range p.Syscalls {
			if r.Action != act {
				continue
			}
			one := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{r}}
			if profiles.Evaluate(one, c.name, c.args) == act {
				errno = r.ErrnoRet
				break
			}
		}
		if errno == nil {
			return unix.ErrnoName(syscall.EPERM)
		}
		return unix.ErrnoName(syscall.Errno(*errno))
	}
	return ""
}

// cell is a result as the table shows it: refusals that come from the
// seccomp profile are marked as such.
func (c *escapeColumn) cell(p escapePrimitive) string {
	got := c.status[p.name]
	if got != "" && got == seccompDenial(c.profile, p.calls) {
		return got + " (seccomp)"
	}
	return got
}

// dockerDefaultProfile is Docker's default profile resolved for the stock
// capabilities, as dockerd would apply it to a container started with them.
func dockerDefaultProfile(t *testing.T) *specs.LinuxSeccomp {
	t.Helper()
	p, err := mobyseccomp.GetDefaultProfile(&specs.Spec{Process: &specs.Process{
		Capabilities: &specs.LinuxCapabilities{Bounding: profiles.StockCaps()},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// appliedProfile reads the seccomp profile secrun wrote into a bundle.
func appliedProfile(t *testing.T, b *Bundle) *specs.LinuxSeccomp {
	t.Helper()
	data, err := os.ReadFile(b.ConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Linux struct {
			Seccomp *specs.LinuxSeccomp `json:"seccomp"`
		} `json:"linux"`
	}
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	if s.Linux.Seccomp == nil {
		t.Fatalf("secrun left %s without a seccomp profile", b.ConfigPath())
	}
	return s.Linux.Seccomp
}

// escapeCommand probes the status, then every primitive, each in a forked
// child of its own so that one's side effects cannot colour the next.
func escapeCommand() []string {
	cmd := "probe status; probe each"
	for _, p := range escapeSuite {
		cmd += " " + p.name
	}
	return []string{"sh", "-c", cmd}
}

// runSecrunLevels runs the suite through secrun at runtime-default, then at
// restricted, on one runtime.
func runSecrunLevels(t *testing.T, rt Runtime) (def, restricted *escapeColumn) {
	t.Helper()
	e := newEnv(t, rt)
	run := func(title, id string) *escapeColumn {
		b := newBundle(t, escapeCommand()...)
		out, err := e.Run(t, b, id)
		if err != nil {
			t.Fatalf("%s on %s: %v", title, rt.Name, err)
		}
		return &escapeColumn{title: title, status: fields(out), profile: appliedProfile(t, b)}
	}
	def = run("secrun `runtime-default`", "escape-default-"+rt.Name)
	e.WriteConfig(t, "level = \"restricted\"\n")
	restricted = run("secrun `restricted`", "escape-restricted-"+rt.Name)
	return def, restricted
}

// hostExcuse returns why this host's kernel refuses a gated primitive even
// without a seccomp filter, or "" when no setting of the host explains it.
func hostExcuse(gate string) string {
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join("/proc/sys", name))
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(data))
	}
	switch gate {
	case gateUserns:
		if v := read("user/max_user_namespaces"); v == "0" {
			return "user.max_user_namespaces=0"
		}
		if v := read("kernel/unprivileged_userns_clone"); v == "0" {
			return "kernel.unprivileged_userns_clone=0"
		}
		if v := read("kernel/apparmor_restrict_unprivileged_userns"); v == "1" {
			return "kernel.apparmor_restrict_unprivileged_userns=1"
		}
	case gateBPF:
		// Before Linux 6.5 the sysctl was checked before the attributes.
		if v := read("kernel/unprivileged_bpf_disabled"); v != "" && v != "0" {
			return "kernel.unprivileged_bpf_disabled=" + v
		}
	case gateIOUring:
		if v := read("kernel/io_uring_disabled"); v != "" && v != "0" {
			return "kernel.io_uring_disabled=" + v
		}
	case gatePerf:
		if v, err := strconv.Atoi(read("kernel/perf_event_paranoid")); err == nil && v > 2 {
			return fmt.Sprintf("kernel.perf_event_paranoid=%d", v)
		}
	}
	return ""
}

// TestEscapePrimitives runs the escape-primitive probe under containerd's
// default for a pod (no seccomp), Docker's default profile, and secrun's two
// levels, asserts that secrun blocks what it claims, and renders the
// side-by-side table (integration/testdata/escape-table.md with
// SECRUN_WRITE_TABLE=1).
func TestEscapePrimitives(t *testing.T) {
	// The suite and the probe must name the same primitives.
	listed, err := exec.Command(probe, "list").Output()
	if err != nil {
		t.Fatalf("probe list: %v", err)
	}
	var names []string
	for _, p := range escapeSuite {
		names = append(names, p.name)
	}
	probeNames := strings.Fields(string(listed))
	if a, b := slices.Sorted(slices.Values(names)), slices.Sorted(slices.Values(probeNames)); !slices.Equal(a, b) {
		t.Fatalf("escapeSuite %v and `probe list` %v differ", a, b)
	}

	rt := runtimes()[1] // runc 1.5
	e := newEnv(t, rt)

	unconfined := &escapeColumn{title: "containerd default (Unconfined)",
		status: fields(e.Plain(t, newBundle(t, escapeCommand()...), "escape-unconfined"))}

	docker := dockerDefaultProfile(t)
	b := newBundle(t, escapeCommand()...)
	var asMap any
	data, _ := json.Marshal(docker)
	json.Unmarshal(data, &asMap)
	b.Spec["linux"].(map[string]any)["seccomp"] = asMap
	b.Save(t)
	dockerCol := &escapeColumn{title: "Docker default profile", status: fields(e.Plain(t, b, "escape-docker")), profile: docker}

	def, restricted := runSecrunLevels(t, rt)
	columns := []*escapeColumn{unconfined, dockerCol, def, restricted}

	for _, c := range columns {
		for _, p := range escapeSuite {
			if c.status[p.name] == "" {
				t.Errorf("%s: no result for %s (output: %v)", c.title, p.name, c.status)
			}
		}
	}
	wantStatus := map[*escapeColumn][2]string{
		unconfined: {"0", "0"}, dockerCol: {"2", "0"}, def: {"2", "1"}, restricted: {"2", "1"},
	}
	for c, w := range wantStatus {
		if c.status["Seccomp"] != w[0] || c.status["NoNewPrivs"] != w[1] {
			t.Errorf("%s: Seccomp %q NoNewPrivs %q, want %s %s", c.title, c.status["Seccomp"], c.status["NoNewPrivs"], w[0], w[1])
		}
	}

	checkSecrun := func(rtName string, def, restricted *escapeColumn) {
		for _, p := range escapeSuite {
			for _, lv := range []struct {
				col  *escapeColumn
				want string
			}{{def, p.def}, {restricted, p.restricted}} {
				got := lv.col.status[p.name]
				if lv.want != "" && got != lv.want {
					t.Errorf("%s on %s: %s = %q, want %q (%s)", lv.col.title, rtName, p.name, got, lv.want, p.why)
				}
			}
		}
	}
	checkSecrun(rt.Name, def, restricted)

	// Where a profile denies a call, the probe must see the profile's errno:
	// this ties the table's "(seccomp)" marks to what the kernel did.
	for _, c := range columns[1:] {
		for _, p := range escapeSuite {
			if want := seccompDenial(c.profile, p.calls); want != "" && c.status[p.name] != want {
				t.Errorf("%s: %s = %q, but the profile answers %s", c.title, p.name, c.status[p.name], want)
			}
		}
	}

	// The contrast: without a filter the kernel lets these through (or
	// refuses the harmless arguments), so their EPERM under secrun is
	// secrun's doing.
	var excused []string
	for _, p := range escapeSuite {
		if p.contrast == "" {
			continue
		}
		if got := unconfined.status[p.name]; got == "EPERM" {
			if why := hostExcuse(p.contrast); p.contrast != gateNone && why != "" {
				excused = append(excused, fmt.Sprintf("%s (%s)", p.name, why))
				continue
			}
			t.Errorf("%s: %s = EPERM with no seccomp filter, so secrun's EPERM proves nothing", unconfined.title, p.name)
		}
	}
	if len(excused) > 0 {
		t.Logf("refused by this host's kernel even without a filter: %s", strings.Join(excused, ", "))
	}

	// The other runtimes: secrun's levels must give the same results.
	same := []string{}
	for _, other := range []Runtime{runtimes()[0], runtimes()[2]} {
		t.Run(other.Name, func(t *testing.T) {
			d, r := runSecrunLevels(t, other)
			checkSecrun(other.Name, d, r)
			for _, p := range escapeSuite {
				if d.status[p.name] != def.status[p.name] || r.status[p.name] != restricted.status[p.name] {
					t.Errorf("%s: %s differs from %s: runtime-default %q vs %q, restricted %q vs %q",
						other.Name, p.name, rt.Name, d.status[p.name], def.status[p.name], r.status[p.name], restricted.status[p.name])
				}
			}
			if !t.Failed() {
				same = append(same, other.Name)
			}
		})
	}

	table := escapeTable(rt, columns, same)
	t.Log("\n" + table)
	// Only a passing run may replace the table docs/security.md links to.
	if os.Getenv("SECRUN_WRITE_TABLE") == "1" && !t.Failed() {
		if err := os.WriteFile(filepath.Join("testdata", "escape-table.md"), []byte(table), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// escapeTable renders the results side by side in markdown.
func escapeTable(rt Runtime, columns []*escapeColumn, same []string) string {
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	version, _ := exec.Command(rt.Path, "--version").Output()
	rtVersion, _, _ := strings.Cut(string(version), "\n")
	var sb strings.Builder
	sb.WriteString("<!-- Generated by TestEscapePrimitives: SECRUN_INTEGRATION=1 SECRUN_WRITE_TABLE=1 go test -run TestEscape ./integration/ -->\n")
	fmt.Fprintf(&sb, "Linux %s, %s; the same bundle (the 14 stock capabilities, root) in every column.\n\n", strings.TrimSpace(string(kernel)), rtVersion)
	sb.WriteString("| primitive | harmless call |")
	for _, c := range columns {
		sb.WriteString(" " + c.title + " |")
	}
	sb.WriteString("\n|---|---|")
	for range columns {
		sb.WriteString("---|")
	}
	sb.WriteString("\n")
	esc := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	for _, p := range escapeSuite {
		fmt.Fprintf(&sb, "| `%s` | `%s` |", p.name, esc(p.tried))
		for _, c := range columns {
			sb.WriteString(" " + esc(c.cell(p)) + " |")
		}
		sb.WriteString("\n")
	}
	sb.WriteString(`
- **ok**: the call succeeded (on arguments that change nothing outside the container).
- **(seccomp)**: the container's seccomp profile denies the call with these arguments (checked against the profile the container ran with).
- **EPERM** alone: the kernel's own refusal, a capability the container lacks or a sysctl.
- **another errno**: the call got past seccomp and the permission checks, and the kernel rejected the harmless arguments (ENOSYS: the kernel is built without the feature).
`)
	if len(same) > 0 {
		fmt.Fprintf(&sb, "\nsecrun's columns are identical on %s.\n", strings.Join(same, " and "))
	}
	return sb.String()
}
