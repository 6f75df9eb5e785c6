package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"sort"
	"strings"

	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/secrun/secrun/profiles"
)

// makeRootfs builds a read-only rootfs of busybox-static (and the syscall
// loop, when given), shared by every bundle.
func makeRootfs(dir, busybox, loop string) error {
	for _, d := range []string{"bin", "proc", "sys", "dev", "tmp", "etc"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := copyFile(busybox, filepath.Join(dir, "bin/busybox"), 0o755); err != nil {
		return fmt.Errorf("busybox-static: %w", err)
	}
	if loop != "" {
		if err := copyFile(loop, filepath.Join(dir, "bin/syscall_loop"), 0o755); err != nil {
			return fmt.Errorf("syscall loop: %w", err)
		}
	}
	for _, a := range []string{"sh", "true", "sleep", "cat"} {
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", a)); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(from, to string, mode os.FileMode) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, data, mode)
}

// baseSpec returns the bundle spec every variant starts from: `RUNTIME spec`
// shaped like containerd's spec for a default pod (the integration tests'
// bundle): the 14 stock capabilities in bounding, effective and permitted,
// no seccomp, no no-new-privileges, a read-only rootfs, ociVersion 1.0.2.
func baseSpec(specTool, rootfs string, args []string) (map[string]any, error) {
	dir, err := os.MkdirTemp("", "secrun-bench-spec-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if out, err := exec.Command(specTool, "spec", "--bundle", dir).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s spec: %v: %s", specTool, err, out)
	}
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	var s map[string]any
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%s spec: %w", specTool, err)
	}
	proc, ok := s["process"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s spec: no process section", specTool)
	}
	proc["terminal"] = false
	proc["args"] = args
	proc["noNewPrivileges"] = false
	proc["capabilities"] = map[string]any{
		"bounding": profiles.StockCaps(), "effective": profiles.StockCaps(), "permitted": profiles.StockCaps(),
	}
	s["root"] = map[string]any{"path": rootfs, "readonly": true}
	// One version every runtime takes: crun 1.8 refuses runc 1.5's "1.3.0"
	// ("unknown version specified").
	s["ociVersion"] = "1.0.2"
	return s, nil
}

func specFromJSON(data []byte) (map[string]any, error) {
	var s map[string]any
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, err
	}
	return s, nil
}

// cloneSpec deep-copies a spec map through JSON, with new process args.
func cloneSpec(s map[string]any, args []string) map[string]any {
	data, _ := json.Marshal(s)
	var c map[string]any
	json.Unmarshal(data, &c)
	if args != nil {
		c["process"].(map[string]any)["args"] = args
	}
	return c
}

// encodeSpec writes a spec the way containerd writes a bundle's
// config.json: the compact JSON of the spec it holds (typeurl's
// json.Marshal), which is what secrun reads and splices on a node.
func encodeSpec(s map[string]any) []byte {
	data, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return data
}

// withSeccomp returns s with linux.seccomp set to p.
func withSeccomp(s map[string]any, p *specs.LinuxSeccomp) (map[string]any, error) {
	c := cloneSpec(s, nil)
	data, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	linux, _ := c["linux"].(map[string]any)
	if linux == nil {
		linux = map[string]any{}
		c["linux"] = linux
	}
	linux["seccomp"] = v
	return c, nil
}

// dockerProfile is Docker's default profile as dockerd hands it to runc:
// github.com/moby/profiles/seccomp resolved for the spec's capabilities.
func dockerProfile(s map[string]any) (*specs.LinuxSeccomp, error) {
	var typed specs.Spec
	data, _ := json.Marshal(s)
	if err := json.Unmarshal(data, &typed); err != nil {
		return nil, err
	}
	return mobyseccomp.GetDefaultProfile(&typed)
}

// smallProfile is a recorded-style allowlist: what the syscall loop and the
// runtimes' init code (runc's Go init, crun's C init) called after the
// filter went in, everything else EPERM. Recorded with `strace -f` of the
// loop under runc 1.1, runc 1.5 and crun 1.8 with a filter loaded (every
// call after seccomp(SECCOMP_SET_MODE_FILTER), which also sweeps in a few
// calls of the runtime's parent process, as recorders do), plus the Go
// runtime's thread calls. The harness checks that the container runs under
// it and reports the configuration as failed if not.
func smallProfile() *specs.LinuxSeccomp {
	names := []string{
		"arch_prctl", "brk", "capget", "capset", "chdir", "clone", "clone3", "close",
		"close_range", "connect", "epoll_create1", "epoll_ctl", "epoll_pwait", "epoll_wait",
		"execve", "exit", "exit_group", "faccessat2", "fcntl", "fstat", "fstatfs", "futex",
		"getcwd", "getdents64", "geteuid", "getpid", "getppid", "getrandom", "gettid", "ioctl",
		"kill", "lseek", "madvise", "mkdirat", "mmap", "mprotect", "munmap", "nanosleep",
		"newfstatat", "openat", "openat2", "personality", "pidfd_send_signal", "prctl", "pread64",
		"prlimit64", "read", "readlink", "recvfrom", "rename", "rmdir", "rseq", "rt_sigaction",
		"rt_sigprocmask", "rt_sigreturn", "sched_getaffinity", "sched_yield", "seccomp",
		"set_robust_list", "set_tid_address", "setgid", "setgroups", "setresgid", "setresuid",
		"setuid", "shutdown", "sigaltstack", "signalfd4", "socket", "statx", "tgkill", "unlinkat",
		"wait4", "waitid", "write",
	}
	eperm := uint(1)
	return &specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: &eperm,
		Syscalls:        []specs.LinuxSyscall{{Names: names, Action: specs.ActAllow}},
	}
}

// nodeConfigs writes the node configs secrun reads (mode 0600: secrun
// refuses a config others can write).
func writeNodeConfig(path, text string) error {
	return os.WriteFile(path, []byte(text), 0o600)
}

// runtimeKey matches the node config's top-level runtime line.
var runtimeKey = regexp.MustCompile(`(?m)^\s*runtime\s*=.*$`)

// withRuntime returns node config text with its runtime set to path.
func withRuntime(text, path string) string {
	line := fmt.Sprintf("runtime = %q", path)
	if runtimeKey.MatchString(text) {
		return runtimeKey.ReplaceAllLiteralString(text, line)
	}
	return line + "\n" + text
}

// noopNodeConfigs are no-op policies, most specific first: no seccomp, no
// no-new-privileges, the stock 14 capabilities allowed, Pod Security checks
// off (secrun versions without [podsecurity] take the second). secrun still
// starts, reads the node config, parses, applies, splices its annotation in and
// execs. The harness uses the first one secrun accepts.
func noopNodeConfigs() []string {
	q := make([]string, len(profiles.StockCaps()))
	for i, c := range profiles.StockCaps() {
		q[i] = fmt.Sprintf("%q", c)
	}
	base := `no_new_privileges = false
[seccomp]
mode = "off"
[capabilities]
allow = [` + strings.Join(q, ", ") + `]
`
	return []string{base + "[podsecurity]\nlevel = \"off\"\n", base}
}

// nativeArch is libseccomp's name for the architecture this harness was
// built for.
var nativeArch = map[string]string{
	"amd64": "SCMP_ARCH_X86_64", "arm64": "SCMP_ARCH_AARCH64", "386": "SCMP_ARCH_X86",
	"arm": "SCMP_ARCH_ARM", "ppc64le": "SCMP_ARCH_PPC64LE", "s390x": "SCMP_ARCH_S390X",
	"riscv64": "SCMP_ARCH_RISCV64", "loong64": "SCMP_ARCH_LOONGARCH64",
}[runtime.GOARCH]

// nativeArchOnly returns a config whose seccomp profile lists only the
// native architecture: Docker's profile lists the compat ABIs too (x86 and
// x32 on amd64), and the runtime compiles every rule once per architecture.
func nativeArchOnly(config []byte) ([]byte, error) {
	if nativeArch == "" {
		return nil, fmt.Errorf("-native-arch: no libseccomp name known for %s", runtime.GOARCH)
	}
	s, err := specFromJSON(config)
	if err != nil {
		return nil, err
	}
	linux, _ := s["linux"].(map[string]any)
	sc, _ := linux["seccomp"].(map[string]any)
	if sc == nil {
		return nil, fmt.Errorf("-native-arch: secrun's output has no seccomp profile")
	}
	sc["architectures"] = []string{nativeArch}
	return encodeSpec(s), nil
}

// jsonDiff lists the paths where two documents differ (at most max).
func jsonDiff(a, b []byte, max int) []string {
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		return []string{"first: " + err.Error()}
	}
	if err := json.Unmarshal(b, &y); err != nil {
		return []string{"second: " + err.Error()}
	}
	var out []string
	var walk func(p string, x, y any)
	walk = func(p string, x, y any) {
		if len(out) >= max || reflect.DeepEqual(x, y) {
			return
		}
		xm, ok1 := x.(map[string]any)
		ym, ok2 := y.(map[string]any)
		if !ok1 || !ok2 {
			out = append(out, fmt.Sprintf("%s: %s -> %s", p, short(x), short(y)))
			return
		}
		keys := map[string]bool{}
		for k := range xm {
			keys[k] = true
		}
		for k := range ym {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			xv, inX := xm[k]
			yv, inY := ym[k]
			switch {
			case !inY:
				out = append(out, fmt.Sprintf("%s.%s: %s removed", p, k, short(xv)))
			case !inX:
				out = append(out, fmt.Sprintf("%s.%s: %s added", p, k, short(yv)))
			default:
				walk(p+"."+k, xv, yv)
			}
			if len(out) >= max {
				return
			}
		}
	}
	walk("", x, y)
	return out
}

func short(v any) string {
	data, _ := json.Marshal(v)
	if len(data) > 60 {
		return string(data[:57]) + "..."
	}
	return string(data)
}

// confined checks that a config is what secrun's default policy produces for
// the base spec: a seccomp filter, no-new-privileges, no CAP_NET_RAW.
func confined(data []byte) error {
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	switch {
	case s.Linux == nil || s.Linux.Seccomp == nil || len(s.Linux.Seccomp.Syscalls) == 0:
		return fmt.Errorf("no seccomp profile")
	case s.Process == nil || !s.Process.NoNewPrivileges:
		return fmt.Errorf("noNewPrivileges not set")
	case s.Process.Capabilities == nil || bytes.Contains(data, []byte("CAP_NET_RAW")):
		return fmt.Errorf("CAP_NET_RAW not dropped")
	}
	return nil
}
