package record

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
	"sigs.k8s.io/yaml"

	"github.com/secrun/secrun/profiles"
	"github.com/secrun/secrun/profiles/tool"
)

func dockerDefault(t *testing.T) *specs.LinuxSeccomp {
	t.Helper()
	p, err := profiles.LevelNamed(profiles.RuntimeDefault).Seccomp(profiles.StockCaps())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var argVectors = [][6]uint64{{}, {cloneThread}, {0xffffffff}, {8}, {40}, {0x10000000}, {2, 1}}

func TestRecordingProfileWithoutBase(t *testing.T) {
	rec, err := RecordingProfile(nil)
	if err != nil {
		t.Fatal(err)
	}
	if rec.DefaultAction != specs.ActErrno || errnoOf(rec.DefaultErrnoRet) != eNOSYS {
		t.Errorf("default %s %d, want ERRNO(ENOSYS)", rec.DefaultAction, errnoOf(rec.DefaultErrnoRet))
	}
	if runtime.GOARCH == "amd64" && !slices.Equal(rec.Architectures, []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}) {
		t.Errorf("architectures %v", rec.Architectures)
	}
	for _, n := range []string{"read", "keyctl", "execve", "clone3", "io_uring_setup"} {
		if got := profiles.Evaluate(rec, n, [6]uint64{}); got != specs.ActNotify {
			t.Errorf("%s: %s, want NOTIFY", n, got)
		}
	}
	if runtime.GOARCH == "amd64" {
		// 32-bit only names are recorded too.
		for _, n := range []string{"socketcall", "_llseek", "stat64"} {
			if got := profiles.Evaluate(rec, n, [6]uint64{}); got != specs.ActNotify {
				t.Errorf("%s: %s, want NOTIFY", n, got)
			}
		}
	}
	if got := profiles.Evaluate(rec, "write", [6]uint64{}); got != specs.ActAllow {
		t.Errorf("write: %s, want ALLOW (runc refuses NOTIFY on write)", got)
	}
	for _, r := range rec.Syscalls {
		if r.Action == specs.ActNotify && slices.Contains(r.Names, "write") {
			t.Error("write is on the NOTIFY list")
		}
	}
	// The filter compiles, on every architecture, the way runc builds it.
	path := filepath.Join(t.TempDir(), "rec.json")
	rec.ListenerPath = "/run/secrun/record/x.sock"
	data, _ := json.Marshal(rec)
	os.WriteFile(path, data, 0o644)
	var out, errb bytes.Buffer
	if code := tool.Main([]string{"validate", path}, &out, &errb); code != 0 {
		t.Fatalf("secrun profile validate: %d\n%s%s", code, out.String(), errb.String())
	}
}

// With a base profile, the recording lets a call run exactly when the base
// does, and notifies every such call but write.
func TestRecordingProfileKeepsBase(t *testing.T) {
	for _, level := range profiles.LevelNames() {
		base, err := profiles.LevelNamed(level).Seccomp(profiles.StockCaps())
		if err != nil {
			t.Fatal(err)
		}
		rec, err := RecordingProfile(base)
		if err != nil {
			t.Fatal(err)
		}
		names, _ := namesOn(base.Architectures)
		for _, n := range names {
			for _, a := range argVectors {
				b, r := profiles.Evaluate(base, n, a), profiles.Evaluate(rec, n, a)
				switch {
				case runs(b) && n == "write":
					if r != b {
						t.Errorf("%s: write%v: %s, base %s", level, a, r, b)
					}
				case runs(b):
					if r != specs.ActNotify {
						t.Errorf("%s: %s%v: %s, base %s: want NOTIFY", level, n, a, r, b)
					}
				default:
					if r != b {
						t.Errorf("%s: %s%v: %s, base %s: denials must stay", level, n, a, r, b)
					}
				}
			}
		}
	}
}

func TestRecordingProfileRefuses(t *testing.T) {
	base := dockerDefault(t)
	base.ListenerPath = "/run/agent.sock"
	if _, err := RecordingProfile(base); err == nil || !strings.Contains(err.Error(), "listenerPath") {
		t.Errorf("listenerPath: %v", err)
	}
	notify := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: []string{"mount"}, Action: specs.ActNotify}}}
	if _, err := RecordingProfile(notify); err == nil || !strings.Contains(err.Error(), "SCMP_ACT_NOTIFY") {
		t.Errorf("notify: %v", err)
	}
	condBlock := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{
		Names: []string{"personality"}, Action: specs.ActErrno,
		Args: []specs.LinuxSeccompArg{{Index: 0, Value: 8, Op: specs.OpEqualTo}},
	}}}
	if _, err := RecordingProfile(condBlock); err == nil || !strings.Contains(err.Error(), "only for some arguments") {
		t.Errorf("conditional blocklist: %v", err)
	}
}

func TestRecordingProfileFromBlocklist(t *testing.T) {
	base := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"keyctl", "add_key"}, Action: specs.ActErrno},
	}}
	rec, err := RecordingProfile(base)
	if err != nil {
		t.Fatal(err)
	}
	for n, want := range map[string]specs.LinuxSeccompAction{
		"keyctl": specs.ActErrno, "add_key": specs.ActErrno, "read": specs.ActNotify, "write": specs.ActAllow,
	} {
		if got := profiles.Evaluate(rec, n, [6]uint64{}); got != want {
			t.Errorf("%s: %s, want %s", n, got, want)
		}
	}
	if errnoOf(rec.DefaultErrnoRet) != eNOSYS {
		t.Errorf("default errno %d", errnoOf(rec.DefaultErrnoRet))
	}
}

func TestBuildWithoutBase(t *testing.T) {
	rec, err := RecordingProfile(nil)
	if err != nil {
		t.Fatal(err)
	}
	res := Build(rec, []string{"read", "getppid", "openat"})
	p := res.Profile
	if p.DefaultAction != specs.ActErrno || errnoOf(p.DefaultErrnoRet) != ePERM {
		t.Errorf("default %s %d", p.DefaultAction, errnoOf(p.DefaultErrnoRet))
	}
	if !slices.Equal(p.Architectures, rec.Architectures) {
		t.Errorf("architectures %v", p.Architectures)
	}
	for _, n := range append([]string{"read", "getppid", "openat", "write"}, runtimeBase()...) {
		if got := profiles.Evaluate(p, n, [6]uint64{}); got != specs.ActAllow {
			t.Errorf("%s: %s, want ALLOW", n, got)
		}
	}
	for _, n := range []string{"keyctl", "mount", "unshare", "ptrace", "socket"} {
		if got := profiles.Evaluate(p, n, [6]uint64{}); got != specs.ActErrno {
			t.Errorf("%s: %s, want ERRNO", n, got)
		}
	}
	// Threads only, and clone3 falls back.
	if got := profiles.Evaluate(p, "clone", [6]uint64{cloneThread | 0x100}); got != specs.ActAllow {
		t.Errorf("clone(CLONE_THREAD): %s", got)
	}
	if got := profiles.Evaluate(p, "clone", [6]uint64{0x11}); got != specs.ActErrno {
		t.Errorf("clone(fork): %s", got)
	}
	for _, r := range p.Syscalls {
		if slices.Contains(r.Names, "clone3") && (r.Action != specs.ActErrno || errnoOf(r.ErrnoRet) != eNOSYS) {
			t.Errorf("clone3 rule %+v", r)
		}
	}
	if !slices.Equal(res.Recorded, []string{"getppid", "openat", "read"}) || !slices.Contains(res.Runtime, "write") {
		t.Errorf("recorded %v runtime %v", res.Recorded, res.Runtime)
	}
	if slices.Contains(res.Runtime, "read") {
		t.Error("a recorded name is counted as added for the runtime")
	}
	names := p.Syscalls[0].Names
	if !slices.IsSorted(names) {
		t.Error("names are not sorted")
	}
	if res.Allowed != len(allowedNames(p)) || res.Allowed < len(runtimeBase()) {
		t.Errorf("allowed %d", res.Allowed)
	}
	// A recorded fork allows clone outright.
	if p := Build(rec, []string{"clone", "clone3"}).Profile; profiles.Evaluate(p, "clone", [6]uint64{0x11}) != specs.ActAllow ||
		profiles.Evaluate(p, "clone3", [6]uint64{}) != specs.ActAllow {
		t.Error("recorded clone/clone3 not allowed outright")
	}
}

// Built within Docker's profile, the output never allows what Docker's
// denies, keeps its argument rules and its clone3 ENOSYS.
func TestBuildWithinBase(t *testing.T) {
	base := dockerDefault(t)
	rec, err := RecordingProfile(base)
	if err != nil {
		t.Fatal(err)
	}
	used := []string{"read", "personality", "clone", "socket", "kexec_load"}
	p := Build(rec, used).Profile
	names, _ := namesOn(base.Architectures)
	for _, n := range names {
		for _, a := range argVectors {
			if profiles.Permissive(profiles.Evaluate(p, n, a)) && !profiles.Permissive(profiles.Evaluate(base, n, a)) {
				t.Errorf("%s%v allowed, Docker's profile denies it", n, a)
			}
		}
	}
	if got := profiles.Evaluate(p, "personality", [6]uint64{0xffffffff}); got != specs.ActAllow {
		t.Errorf("personality(query): %s", got)
	}
	if got := profiles.Evaluate(p, "personality", [6]uint64{0x0400000}); got == specs.ActAllow {
		t.Errorf("personality(READ_IMPLIES_EXEC): %s, Docker denies it", got)
	}
	if got := profiles.Evaluate(p, "kexec_load", [6]uint64{}); got == specs.ActAllow {
		t.Error("kexec_load allowed")
	}
	if got := profiles.Evaluate(p, "getpgid", [6]uint64{}); got == specs.ActAllow {
		t.Error("getpgid allowed without being used")
	}
	found := false
	for _, r := range p.Syscalls {
		if slices.Contains(r.Names, "clone3") {
			found = true
			if r.Action != specs.ActErrno || errnoOf(r.ErrnoRet) != eNOSYS {
				t.Errorf("clone3: %+v", r)
			}
		}
	}
	if !found {
		t.Error("clone3 ENOSYS rule missing")
	}
}

func TestEncodeFormats(t *testing.T) {
	rec, err := RecordingProfile(nil)
	if err != nil {
		t.Fatal(err)
	}
	p := Build(rec, []string{"read", "getppid"}).Profile
	dir := t.TempDir()
	for _, f := range []struct{ format, file string }{{FormatOCI, "web.json"}, {FormatSPO, "web.yaml"}} {
		if FormatFor(f.file) != f.format {
			t.Errorf("FormatFor(%s) = %s", f.file, FormatFor(f.file))
		}
		data, err := Encode(p, f.format, tool.NameFromPath(f.file))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, f.file)
		os.WriteFile(path, data, 0o644)
		var out, errb bytes.Buffer
		if code := tool.Main([]string{"validate", path}, &out, &errb); code != 0 {
			t.Errorf("%s: secrun profile validate: %d\n%s%s", f.format, code, out.String(), errb.String())
		}
		// diff against the other format: the same profile.
		if f.format == FormatSPO {
			var doc struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
				Metadata   struct{ Name string }
			}
			if err := yaml.Unmarshal(data, &doc); err != nil || doc.APIVersion != "security-profiles-operator.x-k8s.io/v1" || doc.Kind != "SeccompProfile" || doc.Metadata.Name != "web" {
				t.Errorf("SPO header: %+v %v", doc, err)
			}
			out.Reset()
			if code := tool.Main([]string{"diff", filepath.Join(dir, "web.json"), path}, &out, &errb); code != 0 || strings.Contains(out.String(), "only in") {
				t.Errorf("oci and spo differ (%d):\n%s%s", code, out.String(), errb.String())
			}
		}
	}
	if _, err := Encode(p, "xml", ""); err == nil {
		t.Error("unknown format accepted")
	}
}

func TestRecordingBundle(t *testing.T) {
	bundle := t.TempDir()
	orig := []byte(`{"ociVersion":"1.0.2","process":{"args":["sh"]},"root":{"path":"rootfs"},` +
		`"mounts":[{"destination":"/data","source":"data","options":["rbind"]},{"destination":"/proc","type":"proc","source":"proc"}],` +
		`"linux":{"namespaces":[{"type":"pid"}]},"x-vendor":{"keep":[1,2]}}`)
	rec := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, ListenerPath: "/tmp/l.sock"}
	dir := t.TempDir()
	if err := writeRecordingBundle(bundle, orig, rec, dir); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	var got struct {
		Root   struct{ Path string }
		Mounts []struct{ Source string }
		Linux  struct {
			Namespaces []map[string]string
			Seccomp    specs.LinuxSeccomp
		}
		Vendor json.RawMessage `json:"x-vendor"`
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if got.Root.Path != filepath.Join(bundle, "rootfs") || got.Mounts[0].Source != filepath.Join(bundle, "data") ||
		got.Mounts[1].Source != "proc" || got.Linux.Seccomp.ListenerPath != "/tmp/l.sock" ||
		len(got.Linux.Namespaces) != 1 || !jsonEqual(got.Vendor, `{"keep":[1,2]}`) {
		t.Errorf("recording bundle:\n%s", data)
	}
}

func jsonEqual(raw json.RawMessage, want string) bool {
	var b bytes.Buffer
	return json.Compact(&b, raw) == nil && b.String() == want
}

// childEnv makes the test binary act as a process under a notify filter.
const childEnv = "SECRUN_RECORD_TEST_CHILD"

// agentEnv makes the test binary act as `secrun record-agent`.
const agentEnv = "SECRUN_RECORD_TEST_AGENT"

func TestMain(m *testing.M) {
	if sock := os.Getenv(childEnv); sock != "" {
		os.Exit(notifyChild(sock))
	}
	if mode := os.Getenv(runtimeEnv); mode != "" {
		os.Exit(fakeRuntime(mode, os.Args[1:]))
	}
	if os.Getenv(agentEnv) == "1" && len(os.Args) > 1 && os.Args[1] == AgentCommand {
		os.Exit(AgentMain(os.Args[2:]))
	}
	os.Exit(m.Run())
}

// notifyChild loads a filter that notifies getppid and getpgid, sends the
// fd to sock the way runc does (state JSON + SCM_RIGHTS), then calls
// getppid three times and getpgid once on the filtered thread.
func notifyChild(sock string) int {
	runtime.LockOSThread()
	if err := loadAndSend(sock, os.Getenv(childEnv+"_META")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for i := 0; i < 3; i++ {
		unix.Getppid()
	}
	unix.Getpgid(0)
	return 0
}

// loadAndSend loads the notify filter on this (locked) thread and sends
// its fd to sock with the state JSON, like runc.
func loadAndSend(sock, meta string) error {
	f, err := libseccomp.NewFilter(libseccomp.ActAllow)
	if err != nil {
		return err
	}
	for _, n := range []string{"getppid", "getpgid"} {
		nr, _ := libseccomp.GetSyscallFromName(n)
		if err := f.AddRule(nr, libseccomp.ActNotify); err != nil {
			return err
		}
	}
	if err := f.Load(); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	fd, err := f.GetNotifFd()
	if err != nil {
		return err
	}
	defer unix.Close(int(fd))
	st, _ := json.Marshal(specs.ContainerProcessState{
		Version: specs.Version, Fds: []string{specs.SeccompFdName}, Pid: os.Getpid(),
		Metadata: meta, State: specs.State{ID: "child", Pid: os.Getpid()},
	})
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		return err
	}
	defer c.Close()
	_, _, err = c.WriteMsgUnix(st, unix.UnixRights(int(fd)), nil)
	return err
}

// runtimeEnv makes the test binary a fake runtime for Main: `run --bundle
// B ID` loads a notify filter and sends it to the bundle's listenerPath.
// Modes: ok; linger (leaves a process under the filter behind); nofilter
// (never connects); sleep (the lingering process).
const runtimeEnv = "SECRUN_RECORD_TEST_RUNTIME"

func fakeRuntime(mode string, args []string) int {
	if mode == "sleep" {
		time.Sleep(3 * time.Second)
		return 0
	}
	bundle := ""
	for i, a := range args {
		if a == "--bundle" && i+1 < len(args) {
			bundle = args[i+1]
		}
	}
	data, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil || s.Linux == nil || s.Linux.Seccomp == nil {
		fmt.Fprintln(os.Stderr, "no linux.seccomp", err)
		return 1
	}
	if mode == "nofilter" {
		fmt.Println("ran without a filter")
		return 0
	}
	runtime.LockOSThread()
	if err := loadAndSend(s.Linux.Seccomp.ListenerPath, s.Linux.Seccomp.ListenerMetadata); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for i := 0; i < 3; i++ {
		unix.Getppid()
	}
	unix.Getpgid(0)
	if mode == "linger" {
		// Started from the filtered thread: the child inherits the filter.
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), runtimeEnv+"=sleep")
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	fmt.Println("fake container ran")
	return 0
}

func runChild(t *testing.T, sock, meta string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+sock, childEnv+"_META="+meta)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func TestRecorderReal(t *testing.T) {
	if api, _ := libseccomp.GetAPI(); api < 6 {
		t.Skipf("libseccomp API level %d: no user notification", api)
	}
	sock := filepath.Join(t.TempDir(), "l.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r := NewRecorder()
	r.Metadata = "token"
	var logs bytes.Buffer
	r.Logf = func(f string, a ...any) { fmt.Fprintf(&logs, f+"\n", a...) }
	go r.Serve(l)

	runChild(t, sock, "other") // another container's filter: refused
	runChild(t, sock, "token")
	select {
	case <-r.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("recorder not done; log:\n%s", logs.String())
	}
	s := r.Snapshot()
	if s.Calls["getppid"] != 3 || s.Calls["getpgid"] != 1 || s.Filters != 1 || s.Active != 0 || len(s.Problems) != 0 {
		t.Errorf("snapshot %+v\nlog:\n%s", s, logs.String())
	}
	if !strings.Contains(logs.String(), "refused the filter") {
		t.Errorf("foreign filter not refused; log:\n%s", logs.String())
	}
	// A filter after the end is a problem, not silently ignored.
	runChild(t, sock, "token")
	time.Sleep(200 * time.Millisecond)
	if s := r.Snapshot(); len(s.Problems) != 1 || !strings.Contains(s.Problems[0], "after the recording ended") {
		t.Errorf("late filter: %+v", s.Problems)
	}
}

func TestMainUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"id"}, 2, "--output FILE is required"},
		{[]string{"--output", "x.json"}, 2, "exactly one container ID"},
		{[]string{"--output", "x.json", "--format", "xml", "id"}, 2, `--format "xml"`},
		{[]string{"--output", "x.yaml", "--name", "Web_1", "id"}, 2, "not a Kubernetes object name"},
		{[]string{"--output", "/nonexistent/dir/x.json", "id"}, 1, "cannot write the profile"},
		{[]string{"--output", filepath.Join(t.TempDir(), "x.json"), "--bundle", "/nonexistent", "--runtime", "/bin/true", "id"}, 1, "does not exist"},
	} {
		var out, errb bytes.Buffer
		if code := Main(c.args, &out, &errb); code != c.code || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: %d %q, want %d %q", c.args, code, errb.String(), c.code, c.want)
		}
	}
}

// The runtime path without a runtime: Prepare starts the agent (this test
// binary as record-agent), a process under a notify filter connects like
// runc, and the agent writes the profile when it exits.
func TestPrepareAndAgent(t *testing.T) {
	if api, _ := libseccomp.GetAPI(); api < 6 {
		t.Skipf("libseccomp API level %d: no user notification", api)
	}
	t.Setenv(agentEnv, "1")
	sockets := filepath.Join(t.TempDir(), "sockets")

	s := &specs.Spec{Process: &specs.Process{}, Linux: &specs.Linux{Seccomp: dockerDefault(t)}}
	// Under a root, as secrun create runs it: directories made, files
	// written without following symlinks (beneath.go).
	root := t.TempDir()
	out := filepath.Join(root, "ns", "pod", "web.yaml")
	a, err := PrepareWith(s, "pod_web/1", out, Options{SocketDir: sockets, Exe: os.Args[0], Root: root})
	if err != nil {
		t.Fatal(err)
	}
	sc := s.Linux.Seccomp
	if sc.ListenerPath != a.Socket || sc.ListenerMetadata == "" || !strings.HasPrefix(filepath.Base(a.Socket), "pod_web1-") {
		t.Fatalf("spec not prepared: listenerPath %q metadata %q (agent socket %s)", sc.ListenerPath, sc.ListenerMetadata, a.Socket)
	}
	if got := profiles.Evaluate(sc, "getppid", [6]uint64{}); got != specs.ActNotify {
		t.Errorf("getppid: %s, want NOTIFY", got)
	}
	if fi, err := os.Stat(sockets); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("socket dir: %v %v", fi.Mode(), err)
	}
	// The agent runs in a session of its own.
	if sid, _ := unix.Getsid(a.PID); sid != a.PID {
		t.Errorf("agent session %d, want its own (%d)", sid, a.PID)
	}
	runChild(t, a.Socket, sc.ListenerMetadata)
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(a.PID, &ws, 0, nil); err != nil || ws.ExitStatus() != 0 {
		logData, _ := os.ReadFile(a.Log)
		t.Fatalf("agent: %v, status %d\n%s", err, ws.ExitStatus(), logData)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("apiVersion: security-profiles-operator.x-k8s.io/v1\nkind: SeccompProfile\nmetadata:\n  name: web\n")) ||
		!bytes.Contains(data, []byte("- getppid\n")) || !bytes.Contains(data, []byte("- getpgid\n")) {
		t.Errorf("profile:\n%s", data)
	}
	for _, p := range []string{a.Socket, a.Profile} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s left behind", p)
		}
	}
}

func TestAgentConnectTimeout(t *testing.T) {
	t.Setenv(agentEnv, "1")
	sockets := filepath.Join(t.TempDir(), "sockets")
	out := filepath.Join(t.TempDir(), "p.json")
	a, err := PrepareWith(&specs.Spec{Process: &specs.Process{}}, "never", out, Options{SocketDir: sockets, Exe: os.Args[0], ConnectTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(a.PID, &ws, 0, nil); err != nil || ws.ExitStatus() != 1 {
		t.Fatalf("agent: %v, status %d", err, ws.ExitStatus())
	}
	logData, _ := os.ReadFile(a.Log)
	if !strings.Contains(string(logData), "no filter arrived") {
		t.Errorf("log:\n%s", logData)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a profile was written without a recording")
	}
	if _, err := PrepareWith(&specs.Spec{}, "x", "relative.json", Options{}); err == nil {
		t.Error("relative output accepted")
	}
}

func TestAgentCancel(t *testing.T) {
	t.Setenv(agentEnv, "1")
	sockets := filepath.Join(t.TempDir(), "sockets")
	a, err := PrepareWith(&specs.Spec{Process: &specs.Process{}}, "c", filepath.Join(t.TempDir(), "p.json"), Options{SocketDir: sockets, Exe: os.Args[0]})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Cancel(); err != nil {
		t.Fatal(err)
	}
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(a.PID, &ws, 0, nil); err != nil || !ws.Signaled() {
		t.Fatalf("agent: %v %v", err, ws)
	}
	if _, err := os.Stat(a.Socket); err == nil {
		t.Error("socket left behind")
	}
}

// Main end to end with a fake runtime (this test binary behind a script,
// so that it is not skipped as secrun itself).
func TestMainFakeRuntime(t *testing.T) {
	if api, _ := libseccomp.GetAPI(); api < 6 {
		t.Skipf("libseccomp API level %d: no user notification", api)
	}
	dir := t.TempDir()
	fake := filepath.Join(dir, "fake-runtime")
	os.WriteFile(fake, []byte("#!/bin/sh\nexec "+os.Args[0]+" \"$@\"\n"), 0o755)
	bundle := filepath.Join(dir, "bundle")
	os.Mkdir(bundle, 0o755)
	os.WriteFile(filepath.Join(bundle, "config.json"), []byte(`{"ociVersion":"1.0.2","process":{"args":["x"]},"root":{"path":"rootfs"}}`), 0o644)
	run := func(mode, out string, extra ...string) (int, string, string) {
		t.Setenv(runtimeEnv, mode)
		var o, e bytes.Buffer
		args := append([]string{"--output", out, "--bundle", bundle, "--runtime", fake, "--root", dir}, extra...)
		code := Main(append(args, "fake"), &o, &e)
		return code, o.String(), e.String()
	}

	out := filepath.Join(dir, "ok.json")
	code, stdout, stderr := run("ok", out, "-v")
	if code != 0 || stdout != "fake container ran\n" {
		t.Fatalf("ok: %d %q\n%s", code, stdout, stderr)
	}
	data, _ := os.ReadFile(out)
	var got specs.LinuxSeccomp
	json.Unmarshal(data, &got)
	if !slices.Contains(got.Syscalls[0].Names, "getpgid") || !strings.Contains(stderr, "getppid                  3") {
		t.Errorf("ok: profile %s\nstderr %s", data, stderr)
	}

	out = filepath.Join(dir, "linger.json")
	code, _, stderr = run("linger", out, "--wait", "300ms")
	if code != 1 || !strings.Contains(stderr, "still running") || !strings.Contains(stderr, "no profile written") {
		t.Errorf("linger: %d\n%s", code, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("linger: a profile was written")
	}
	if _, err := os.Stat(out + ".partial"); err != nil {
		t.Errorf("linger: no .partial: %v", err)
	}

	out = filepath.Join(dir, "nofilter.json")
	start := time.Now()
	code, _, stderr = run("nofilter", out)
	if code != 1 || !strings.Contains(stderr, "without connecting to the listener") || time.Since(start) > 5*time.Second {
		t.Errorf("nofilter: %d after %v\n%s", code, time.Since(start), stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("nofilter: a profile was written")
	}
}
