// Package integration runs real containers through secrun and real runtimes
// (Debian's runc 1.1, runc 1.5 built from the module proxy, crun) and checks
// the result from inside the container.
package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/secrun/secrun/profiles"
)

var (
	secrun string // the secrun binary under test
	probe  string // static probe run inside containers
	work   string
)

// Runtime is a real OCI runtime the tests drive through secrun.
type Runtime struct{ Name, Path string }

func runtimes() []Runtime {
	tools := os.Getenv("SECRUN_TOOLS")
	if tools == "" {
		tools = "/opt/secrun-test/bin"
	}
	return []Runtime{
		{"runc-1.1", "/usr/sbin/runc"},
		{"runc-1.5", filepath.Join(tools, "runc")},
		{"crun", "/usr/bin/crun"},
	}
}

// required: under `make test` (SECRUN_INTEGRATION=1) a missing prerequisite
// fails the run instead of skipping it, so CI cannot pass by testing nothing.
func required() bool { return os.Getenv("SECRUN_INTEGRATION") == "1" }

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		if required() {
			fmt.Fprintln(os.Stderr, "integration tests need root")
			os.Exit(1)
		}
		fmt.Println("integration: skipped, not root (make test runs them as root)")
		os.Exit(0)
	}
	// One integration run at a time on a machine: the suites start
	// containerd and Kubernetes on fixed ports and paths, and two runs at
	// once (a developer's `go test ./...` next to `make test`) break each
	// other and leave daemons behind.
	lock, err := os.OpenFile("/run/lock/secrun-integration.lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err == nil {
		if unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
			fmt.Fprintln(os.Stderr, "integration: waiting for another integration run on this machine to finish")
			unix.Flock(int(lock.Fd()), unix.LOCK_EX)
		}
		defer lock.Close()
	}
	work, err = os.MkdirTemp("", "secrun-it-")
	if err != nil {
		panic(err)
	}
	code := func() int {
		defer os.RemoveAll(work)
		// `make integration` passes the binary `make build` made, so the
		// tests run what ships; otherwise build one here.
		// secrun-tools must sit next to it (secrun hands tool commands
		// and recording creates to it), as `make build` puts it.
		secrun = os.Getenv("SECRUN_BIN")
		if secrun == "" {
			secrun = filepath.Join(work, "secrun")
			for _, b := range []struct{ out, pkg, cgo string }{
				{secrun, "../cmd/secrun", "CGO_ENABLED=0"},
				{filepath.Join(work, "secrun-tools"), "../cmd/secrun-tools", "CGO_ENABLED=1"},
			} {
				cmd := exec.Command("go", "build", "-o", b.out, b.pkg)
				cmd.Env = append(os.Environ(), b.cgo)
				if out, err := cmd.CombinedOutput(); err != nil {
					fmt.Fprintf(os.Stderr, "building %s: %v\n%s", b.pkg, err, out)
					return 1
				}
			}
		}
		for _, b := range []string{secrun, filepath.Join(filepath.Dir(secrun), "secrun-tools")} {
			if _, err := os.Stat(b); err != nil {
				fmt.Fprintf(os.Stderr, "SECRUN_BIN: %v (make build makes both)\n", err)
				return 1
			}
		}
		probe = filepath.Join(work, "probe")
		if out, err := exec.Command("gcc", "-static", "-O2", "-o", probe, "testdata/probe.c").CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building probe: %v\n%s", err, out)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

func needRuntime(t *testing.T, rt Runtime) {
	t.Helper()
	if _, err := os.Stat(rt.Path); err != nil {
		if required() {
			t.Fatalf("%s not installed at %s (script/install-deps.sh installs it)", rt.Name, rt.Path)
		}
		t.Skipf("%s not installed", rt.Name)
	}
}

// Bundle is an OCI bundle with a busybox-static + probe rootfs.
type Bundle struct {
	Dir  string
	Spec map[string]any
}

var rootfsOnce string

// baseRootfs builds the rootfs once; bundles bind it read-only.
func baseRootfs(t *testing.T) string {
	if rootfsOnce != "" {
		return rootfsOnce
	}
	dir := filepath.Join(work, "rootfs")
	for _, d := range []string{"bin", "proc", "sys", "dev", "tmp", "etc"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatalf("busybox-static not installed: %v", err)
	}
	copyFile(t, bb, filepath.Join(dir, "bin/busybox"))
	copyFile(t, probe, filepath.Join(dir, "bin/probe"))
	for _, a := range []string{"sh", "cat", "sleep", "grep", "unshare", "true", "echo"} {
		os.Symlink("busybox", filepath.Join(dir, "bin", a))
	}
	rootfsOnce = dir
	return dir
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

// newBundle writes a spec like containerd's for a default pod: the 14 stock
// capabilities in every set but ambient, no seccomp, no no-new-privileges.
func newBundle(t *testing.T, args ...string) *Bundle {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("/usr/sbin/runc", "spec", "--bundle", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("runc spec: %v %s", err, out)
	}
	b := &Bundle{Dir: dir}
	data, _ := os.ReadFile(b.ConfigPath())
	json.Unmarshal(data, &b.Spec)
	proc := b.Spec["process"].(map[string]any)
	proc["terminal"] = false
	proc["args"] = args
	proc["noNewPrivileges"] = false
	proc["capabilities"] = map[string]any{
		"bounding": profiles.StockCaps(), "effective": profiles.StockCaps(), "permitted": profiles.StockCaps(),
	}
	b.Spec["root"] = map[string]any{"path": baseRootfs(t), "readonly": true}
	b.Save(t)
	return b
}

func (b *Bundle) ConfigPath() string { return filepath.Join(b.Dir, "config.json") }

func (b *Bundle) Save(t *testing.T) {
	t.Helper()
	data, err := json.MarshalIndent(b.Spec, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b.ConfigPath(), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Env is the environment secrun runs in for one test.
type Env struct {
	Runtime Runtime
	Config  string // node config path (SECRUN_CONFIG)
	Root    string // --root
}

func newEnv(t *testing.T, rt Runtime) *Env {
	needRuntime(t, rt)
	return &Env{Runtime: rt, Config: filepath.Join(t.TempDir(), "config.toml"), Root: t.TempDir()}
}

func (e *Env) WriteConfig(t *testing.T, text string) {
	t.Helper()
	if err := os.WriteFile(e.Config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (e *Env) environ() []string {
	return append(os.Environ(), "SECRUN_CONFIG="+e.Config, "SECRUN_RUNTIME="+e.Runtime.Path)
}

// Cmd builds a secrun call with containerd's global flags.
func (e *Env) Cmd(bundle string, args ...string) *exec.Cmd {
	g := []string{"--root", e.Root}
	if bundle != "" {
		g = append(g, "--log", filepath.Join(bundle, "log.json"), "--log-format", "json")
	}
	cmd := exec.Command(secrun, append(g, args...)...)
	cmd.Env = e.environ()
	return cmd
}

// Run runs a container to completion with `secrun run` and returns its stdout.
func (e *Env) Run(t *testing.T, b *Bundle, id string) (string, error) {
	t.Helper()
	cmd := exec.Command(secrun, "--root", e.Root, "run", "--bundle", b.Dir, id)
	cmd.Env = e.environ()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("%v: %s", err, errb.String())
	}
	return out.String(), nil
}

// Plain runs the same bundle through the runtime directly, for contrast.
func (e *Env) Plain(t *testing.T, b *Bundle, id string) string {
	t.Helper()
	out, err := exec.Command(e.Runtime.Path, "--root", e.Root, "run", "--bundle", b.Dir, id).Output()
	if err != nil {
		t.Fatalf("plain %s run: %v", e.Runtime.Name, err)
	}
	return string(out)
}

// fields parses "Key:\tvalue" and "name result" lines.
func fields(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			k, v, ok = strings.Cut(line, " ")
		}
		if ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m
}

// capMask is /proc/self/status's hex mask for a set of capability names.
func capMask(t *testing.T, names []string) string {
	var mask uint64
	for _, n := range names {
		found := false
		for _, c := range capability.ListKnown() {
			if "CAP_"+strings.ToUpper(c.String()) == n {
				mask |= 1 << uint(c)
				found = true
			}
		}
		if !found {
			t.Fatalf("unknown cap %s", n)
		}
	}
	return fmt.Sprintf("%016x", mask)
}

// lastError decodes log.json exactly as containerd's shim does.
func lastError(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var last string
	for {
		var e struct {
			Level string
			Msg   string
			Time  time.Time
		}
		if err := dec.Decode(&e); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("containerd could not decode %s: %v\n%s", path, err, data)
		}
		if e.Level == "error" {
			last = e.Msg
		}
	}
	return last
}

// waitStopped polls `state` until the container's process has exited.
func (e *Env) waitStopped(t *testing.T, id string) {
	t.Helper()
	for i := 0; i < 200; i++ {
		out, err := e.Cmd("", "state", id).Output()
		if err != nil {
			t.Fatalf("state %s: %v", id, err)
		}
		var st specs.State
		if err := json.Unmarshal(out, &st); err != nil {
			t.Fatalf("state output is not JSON (secrun must not write on stdout): %v: %q", err, out)
		}
		if st.Status == specs.StateStopped {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("container %s did not stop", id)
}

// Create runs `create` with containerd's flags. The container inherits the
// caller's stdio, so it gets a file, never a pipe (a pipe would stay open
// as long as the container lives). It returns the file's name.
func (e *Env) Create(t *testing.T, b *Bundle, id string) (string, error) {
	t.Helper()
	name := filepath.Join(b.Dir, id+".out")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := e.Cmd(b.Dir, "create", "--bundle", b.Dir, "--pid-file", filepath.Join(b.Dir, "init.pid"), id)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Run(); err != nil {
		data, _ := os.ReadFile(name)
		return name, fmt.Errorf("create %s: %v: %s", id, err, data)
	}
	return name, nil
}

// Started creates and starts a container with containerd's flags and
// deletes it when the test ends.
func (e *Env) Started(t *testing.T, b *Bundle, id string) {
	t.Helper()
	if _, err := e.Create(t, b, id); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Cmd(b.Dir, "delete", "--force", id).Run() })
	if out, err := e.Cmd(b.Dir, "start", id).CombinedOutput(); err != nil {
		t.Fatalf("start: %v %s", err, out)
	}
}
