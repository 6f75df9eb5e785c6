package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/secrun/secrun/profiles"
	"github.com/secrun/secrun/record"
	"github.com/secrun/secrun/spec"
)

// TestRecord records workloads with `secrun record` (seccomp user
// notification through linux.seccomp.listenerPath) and replays the
// profiles on runc 1.1, runc 1.5 and crun:
//   - busybox: the recording's output equals an unconfined run's, and the
//     replay gives the same output on every runtime, with noNewPrivileges
//     off and on, even with defaultAction SCMP_ACT_KILL_PROCESS (so no call
//     outside the profile was made, by the workload or by the runtime after
//     the filter), and through secrun with the profile as the node's;
//   - probe: a syscall the recorded workload did not make (keyctl) is
//     denied with EPERM on replay;
//   - http: a static Go HTTP server on the host network, exercised with real
//     requests while recorded, stopped with SIGTERM, serves on replay;
//   - agent: record.Prepare's detached agent (the secrun create path)
//     records a container created and started like containerd does, with
//     an exec'd process, writes the profile so far on SIGUSR1 without
//     stopping the container, and the final profile at its exit.
//
// It logs how many syscalls each profile allows against Docker's default
// profile, and writes the table to testdata/record-counts.md when
// SECRUN_WRITE_TABLE=1.
func TestRecord(t *testing.T) {
	for _, rt := range runtimes() {
		needRuntime(t, rt)
	}
	rec := recordBinary(t)
	var rows []countRow
	add := func(r countRow) { rows = append(rows, r) }

	t.Run("busybox", func(t *testing.T) {
		for _, with := range runtimes() {
			t.Run("recorded-with-"+with.Name, func(t *testing.T) {
				add(recordBusybox(t, rec, with))
			})
		}
	})
	t.Run("probe-keyctl", func(t *testing.T) { add(recordKeyctl(t, rec)) })
	t.Run("fails-closed", func(t *testing.T) { recordFailsClosed(t, rec) })
	t.Run("http", func(t *testing.T) { add(recordHTTP(t, rec)) })
	t.Run("agent", func(t *testing.T) {
		for _, rt := range []Runtime{runtimes()[1], runtimes()[2]} {
			t.Run(rt.Name, func(t *testing.T) { add(recordAgent(t, rec, rt)) })
		}
	})
	writeCounts(t, rows)
}

// recordBinary is secrun itself: `secrun record` and `secrun record-agent`.
func recordBinary(t *testing.T) string { return secrun }

var (
	recordRootfsOnce string
	httpServerSource = `package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, "hello from the recorded server")
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Write(body)
	})
	srv := &http.Server{Addr: os.Args[1], Handler: mux}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Shutdown(context.Background())
	}()
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		log.Fatal(err)
	}
	fmt.Println("server stopped")
}
`
)

// recordRootfs is the harness rootfs plus /etc/passwd and a static Go HTTP
// server at /bin/httpsrv, built once.
func recordRootfs(t *testing.T) string {
	if recordRootfsOnce != "" {
		return recordRootfsOnce
	}
	dir := filepath.Join(work, "record-rootfs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", baseRootfs(t)+"/.", dir+"/").CombinedOutput(); err != nil {
		t.Fatalf("copying the rootfs: %v %s", err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "httpsrv.go")
	os.WriteFile(src, []byte(httpServerSource), 0o644)
	cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(dir, "bin/httpsrv"), src)
	cmd.Dir = filepath.Dir(src)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GOTOOLCHAIN=local", "GO111MODULE=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the HTTP server: %v\n%s", err, out)
	}
	recordRootfsOnce = dir
	return dir
}

// recordBundle is newBundle on the record rootfs.
func recordBundle(t *testing.T, args ...string) *Bundle {
	t.Helper()
	b := newBundle(t, args...)
	b.Spec["root"] = map[string]any{"path": recordRootfs(t), "readonly": true}
	b.Save(t)
	return b
}

// withProfile copies b into a new bundle whose spec carries profile p;
// killDefault turns its defaultAction into SCMP_ACT_KILL_PROCESS.
func withProfile(t *testing.T, b *Bundle, p *specs.LinuxSeccomp, killDefault, nnp bool) *Bundle {
	t.Helper()
	var s map[string]any
	data, _ := json.Marshal(b.Spec)
	json.Unmarshal(data, &s)
	q := *p
	if killDefault {
		q.DefaultAction, q.DefaultErrnoRet = specs.ActKillProcess, nil
	}
	s["linux"].(map[string]any)["seccomp"] = q
	s["process"].(map[string]any)["noNewPrivileges"] = nnp
	nb := &Bundle{Dir: t.TempDir(), Spec: s}
	nb.Save(t)
	return nb
}

// runtimeRun runs `RUNTIME --root ROOT run --bundle B ID` to completion.
func runtimeRun(t *testing.T, rt Runtime, root string, b *Bundle, id string) (string, error) {
	t.Helper()
	cmd := exec.Command(rt.Path, "--root", root, "run", "--bundle", b.Dir, id)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		return "", err
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return out.String(), fmt.Errorf("%s run: %v: %s", rt.Name, err, lastLine(errb.String()))
		}
		return out.String(), nil
	case <-ctx.Done():
		cmd.Process.Kill()
		exec.Command(rt.Path, "--root", root, "delete", "--force", id).Run()
		return out.String(), fmt.Errorf("%s run %s: timed out", rt.Name, id)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// recordRun runs secrun-record record in the foreground.
func recordRun(t *testing.T, rec string, rt Runtime, root string, b *Bundle, id, out string, extra ...string) (stdout, stderr string, err error) {
	t.Helper()
	args := append([]string{"record", "--output", out, "--bundle", b.Dir, "--runtime", rt.Path, "--root", root}, extra...)
	cmd := exec.Command(rec, append(args, id)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

func loadProfile(t *testing.T, path string) *specs.LinuxSeccomp {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var p specs.LinuxSeccomp
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &p
}

// allowedCount is the number of distinct syscall names a profile lets run
// (outright or for some arguments).
func allowedCount(p *specs.LinuxSeccomp) int {
	set := map[string]bool{}
	for _, r := range p.Syscalls {
		if r.Action == specs.ActAllow || r.Action == specs.ActLog {
			for _, n := range r.Names {
				set[n] = true
			}
		}
	}
	return len(set)
}

type countRow struct {
	Workload, RecordedWith string
	Recorded, Allowed      int
}

// recordedCount reads "N calls to M syscalls recorded" from the summary.
func recordedCount(stderr string) int {
	var calls, n int
	for _, l := range strings.Split(stderr, "\n") {
		if i := strings.Index(l, " calls to "); i >= 0 {
			start := strings.LastIndexAny(l[:i], " ;") + 1
			fmt.Sscanf(l[start:], "%d calls to %d syscalls", &calls, &n)
		}
	}
	return n
}

func recordBusybox(t *testing.T, rec string, with Runtime) countRow {
	const script = "ls / ; cat /etc/passwd; echo hi"
	b := recordBundle(t, "sh", "-c", script)
	e := newEnv(t, with)
	out := filepath.Join(t.TempDir(), "busybox.json")
	stdout, stderr, err := recordRun(t, rec, with, e.Root, b, "rec-bb", out)
	if err != nil {
		t.Fatalf("record: %v\n%s", err, stderr)
	}
	t.Logf("%s", strings.TrimSpace(stderr))
	want, err := runtimeRun(t, with, e.Root, b, "rec-bb-plain")
	if err != nil {
		t.Fatal(err)
	}
	if stdout != want || !strings.Contains(stdout, "root:x:0:0") || !strings.HasSuffix(stdout, "hi\n") {
		t.Fatalf("recorded run printed %q, an unconfined run %q", stdout, want)
	}
	p := loadProfile(t, out)
	if p.DefaultAction != specs.ActErrno || !slices.Equal(p.Architectures, []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}) {
		t.Errorf("profile default %s, architectures %v", p.DefaultAction, p.Architectures)
	}
	if n := p.Syscalls[0].Names; !slices.IsSorted(n) || !slices.Contains(n, "write") || slices.Contains(n, "keyctl") {
		t.Errorf("allowed names: %v", n)
	}
	for _, rt := range runtimes() {
		for _, nnp := range []bool{false, true} {
			for _, kill := range []bool{false, true} {
				rb := withProfile(t, b, p, kill, nnp)
				got, err := runtimeRun(t, rt, newEnv(t, rt).Root, rb, "replay-bb")
				if err != nil || got != want {
					t.Errorf("replay on %s (noNewPrivileges %v, kill default %v): %v, output %q, want %q", rt.Name, nnp, kill, err, got, want)
				}
			}
		}
		// Through secrun, with the recorded profile as the node's profile.
		se := newEnv(t, rt)
		se.WriteConfig(t, fmt.Sprintf("[seccomp]\nprofile = %q\n", out))
		sb := recordBundle(t, "sh", "-c", script)
		got, err := se.Run(t, sb, "replay-bb-secrun")
		if err != nil || got != want {
			t.Errorf("secrun run on %s with the recorded profile: %v, output %q, want %q", rt.Name, err, got, want)
		}
	}
	return countRow{"busybox `sh -c '" + script + "'`", with.Name, recordedCount(stderr), allowedCount(p)}
}

func recordKeyctl(t *testing.T, rec string) countRow {
	rt := runtimes()[1]
	b := recordBundle(t, "probe", "sys", "getppid")
	e := newEnv(t, rt)
	out := filepath.Join(t.TempDir(), "probe.json")
	stdout, stderr, err := recordRun(t, rec, rt, e.Root, b, "rec-probe", out)
	if err != nil || stdout != "getppid ok\n" {
		t.Fatalf("record: %v %q\n%s", err, stdout, stderr)
	}
	p := loadProfile(t, out)
	check := recordBundle(t, "probe", "sys", "getppid", "keyctl")
	plain, err := runtimeRun(t, rt, e.Root, check, "probe-plain")
	if err != nil || !strings.Contains(plain, "getppid ok") || strings.Contains(plain, "keyctl EPERM") {
		t.Fatalf("without a profile: %v %q (keyctl must not be EPERM there)", err, plain)
	}
	for _, rt := range runtimes() {
		got, err := runtimeRun(t, rt, newEnv(t, rt).Root, withProfile(t, check, p, false, false), "probe-replay")
		if err != nil || got != "getppid ok\nkeyctl EPERM\n" {
			t.Errorf("%s: %v %q, want getppid ok, keyctl EPERM", rt.Name, err, got)
		}
	}
	t.Logf("keyctl without a profile: %q; under the recorded profile: EPERM on every runtime", strings.TrimSpace(strings.Split(plain, "\n")[1]))
	return countRow{"probe `sys getppid`", rt.Name, recordedCount(stderr), allowedCount(p)}
}

// recordFailsClosed: a container the runtime cannot start records nothing
// and writes no profile.
func recordFailsClosed(t *testing.T, rec string) {
	rt := runtimes()[1]
	b := recordBundle(t, "true")
	b.Spec["root"] = map[string]any{"path": filepath.Join(t.TempDir(), "missing"), "readonly": true}
	b.Save(t)
	out := filepath.Join(t.TempDir(), "none.json")
	start := time.Now()
	_, stderr, err := recordRun(t, rec, rt, newEnv(t, rt).Root, b, "rec-fail", out)
	if err == nil || !strings.Contains(stderr, "nothing recorded") || time.Since(start) > 5*time.Second {
		t.Errorf("record of an unstartable container: %v after %v\n%s", err, time.Since(start), stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a profile was written")
	}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// hostNetwork removes the network namespace from b's spec.
func hostNetwork(t *testing.T, b *Bundle) {
	linux := b.Spec["linux"].(map[string]any)
	var ns []any
	for _, n := range linux["namespaces"].([]any) {
		if n.(map[string]any)["type"] != "network" {
			ns = append(ns, n)
		}
	}
	linux["namespaces"] = ns
	b.Save(t)
}

// exercise waits for the server and sends it real requests.
func exercise(t *testing.T, base string) error {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := client.Get(base + "/")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server not up: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	get := func(path string) (int, string, error) {
		resp, err := client.Get(base + path)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), err
	}
	if code, body, err := get("/"); err != nil || code != 200 || body != "hello from the recorded server\n" {
		return fmt.Errorf("GET /: %d %q %v", code, body, err)
	}
	if code, _, err := get("/missing"); err != nil || code != 404 {
		return fmt.Errorf("GET /missing: %d %v", code, err)
	}
	payload := strings.Repeat("ping ", 20000)
	resp, err := client.Post(base+"/echo", "text/plain", strings.NewReader(payload))
	if err != nil {
		return fmt.Errorf("POST /echo: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != payload {
		return fmt.Errorf("POST /echo: %d bytes back, sent %d", len(body), len(payload))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, _, err := get("/"); err != nil || code != 200 {
				errs <- fmt.Errorf("concurrent GET: %d %v", code, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// stopAndWait sends SIGTERM to container id and waits for cmd.
func stopAndWait(t *testing.T, rt Runtime, root, id string, cmd *exec.Cmd) error {
	t.Helper()
	if out, err := exec.Command(rt.Path, "--root", root, "kill", id, "TERM").CombinedOutput(); err != nil {
		return fmt.Errorf("kill: %v %s", err, out)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		exec.Command(rt.Path, "--root", root, "delete", "--force", id).Run()
		return fmt.Errorf("%s did not exit after SIGTERM", id)
	}
}

func recordHTTP(t *testing.T, rec string) countRow {
	rt := runtimes()[1]
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	b := recordBundle(t, "/bin/httpsrv", addr)
	hostNetwork(t, b)
	e := newEnv(t, rt)
	out := filepath.Join(t.TempDir(), "httpsrv.yaml") // SeccompProfile, by the extension
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(rec, "record", "--output", out, "--format", "oci", "--bundle", b.Dir, "--runtime", rt.Path, "--root", e.Root, "rec-http")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := exercise(t, "http://"+addr); err != nil {
		stopAndWait(t, rt, e.Root, "rec-http", cmd)
		t.Fatalf("while recording: %v\n%s", err, stderr.String())
	}
	if err := stopAndWait(t, rt, e.Root, "rec-http", cmd); err != nil {
		t.Fatalf("record: %v\n%s", err, stderr.String())
	}
	t.Logf("%s", strings.TrimSpace(stderr.String()))
	if stdout.String() != "server stopped\n" {
		t.Errorf("server printed %q", stdout.String())
	}
	p := loadProfile(t, out) // --format oci overrides the extension
	for _, n := range []string{"accept4", "epoll_pwait", "bind", "listen", "setsockopt"} {
		if !slices.Contains(p.Syscalls[0].Names, n) {
			t.Errorf("%s not recorded", n)
		}
	}
	for _, rt := range runtimes() {
		for _, kill := range []bool{false, true} {
			re := newEnv(t, rt)
			rb := withProfile(t, b, p, kill, true)
			var o, eb bytes.Buffer
			c := exec.Command(rt.Path, "--root", re.Root, "run", "--bundle", rb.Dir, "replay-http")
			c.Stdout, c.Stderr = &o, &eb
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			serr := exercise(t, "http://"+addr)
			werr := stopAndWait(t, rt, re.Root, "replay-http", c)
			if serr != nil || werr != nil || o.String() != "server stopped\n" {
				t.Errorf("replay on %s (kill default %v): serving: %v; exit: %v; output %q %s", rt.Name, kill, serr, werr, o.String(), eb.String())
			}
		}
	}
	// The same recording as a SeccompProfile.
	spoOut := filepath.Join(t.TempDir(), "web.yaml")
	b2 := recordBundle(t, "sh", "-c", "echo hi")
	if _, se, err := recordRun(t, rec, rt, e.Root, b2, "rec-spo", spoOut); err != nil {
		t.Errorf("record --output web.yaml: %v\n%s", err, se)
	} else if data, _ := os.ReadFile(spoOut); !bytes.Contains(data, []byte("apiVersion: security-profiles-operator.x-k8s.io/v1\nkind: SeccompProfile\nmetadata:\n  name: web\n")) {
		t.Errorf("SPO output:\n%s", data)
	}
	return countRow{"static Go HTTP server (net/http, requests, SIGTERM)", rt.Name, recordedCount(stderr.String()), allowedCount(p)}
}

// recordAgent drives record.Prepare the way secrun create will: the spec
// goes through Prepare, is saved to config.json, and the container is
// created and started with the runtime (noNewPrivileges on, as secrun's
// policy sets it, so the filter is loaded at start).
func recordAgent(t *testing.T, rec string, rt Runtime) countRow {
	b := recordBundle(t, "sh", "-c", "echo ready; while [ ! -e /dev/shm/stop ]; do sleep 0.1; done; echo bye")
	b.Spec["process"].(map[string]any)["noNewPrivileges"] = true
	b.Save(t)
	c, err := spec.LoadConfig(b.Dir, "")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "agent.json")
	id := "rec-agent-" + rt.Name
	agent, err := record.PrepareWith(c.Spec, id, out, record.Options{Exe: rec})
	if err != nil {
		t.Fatal(err)
	}
	reaped := false
	defer func() {
		if !reaped {
			agent.Cancel()
		}
	}()
	if s := c.Spec.Linux.Seccomp; s.ListenerPath != agent.Socket || s.ListenerMetadata == "" {
		t.Fatalf("spec not prepared: %+v", s)
	}
	data, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Save(data); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, rt)
	stdoutPath := filepath.Join(t.TempDir(), "out")
	f, _ := os.Create(stdoutPath)
	create := exec.Command(rt.Path, "--root", e.Root, "create", "--bundle", b.Dir, id)
	create.Stdout, create.Stderr = f, f
	if err := create.Run(); err != nil {
		f.Close()
		data, _ := os.ReadFile(stdoutPath)
		t.Fatalf("create: %v %s", err, data)
	}
	f.Close()
	defer exec.Command(rt.Path, "--root", e.Root, "delete", "--force", id).Run()
	if out, err := exec.Command(rt.Path, "--root", e.Root, "start", id).CombinedOutput(); err != nil {
		t.Fatalf("start: %v %s", err, out)
	}
	waitFor(t, "the container to print ready", func() bool {
		data, _ := os.ReadFile(stdoutPath)
		return strings.Contains(string(data), "ready")
	})
	// An exec'd process has a filter of its own: a second connection.
	if got, err := exec.Command(rt.Path, "--root", e.Root, "exec", id, "probe", "sys", "get-mempolicy").CombinedOutput(); err != nil || !strings.Contains(string(got), "get-mempolicy ok") {
		t.Fatalf("exec: %v %s", err, got)
	}
	// SIGUSR1: the profile so far, the container still running.
	if err := syscall.Kill(agent.PID, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the flushed profile", func() bool { _, err := os.Stat(out); return err == nil })
	flushed := loadProfile(t, out)
	if !slices.Contains(flushed.Syscalls[0].Names, "get_mempolicy") || !slices.Contains(flushed.Syscalls[0].Names, "wait4") {
		t.Errorf("flushed profile lacks get_mempolicy or wait4: %v", flushed.Syscalls[0].Names)
	}
	st, _ := exec.Command(rt.Path, "--root", e.Root, "state", id).Output()
	var state specs.State
	json.Unmarshal(st, &state)
	if state.Status != specs.StateRunning {
		t.Errorf("after SIGUSR1 the container is %q, want running", state.Status)
	}
	os.Remove(out)
	if got, err := exec.Command(rt.Path, "--root", e.Root, "exec", id, "sh", "-c", ": > /dev/shm/stop").CombinedOutput(); err != nil {
		t.Fatalf("exec stop: %v %s", err, got)
	}
	// The agent is our child (Prepare started it here): its exit status.
	var ws syscall.WaitStatus
	done := make(chan error, 1)
	go func() { _, err := syscall.Wait4(agent.PID, &ws, 0, nil); done <- err }()
	select {
	case err := <-done:
		reaped = err == nil
		if err != nil || ws.ExitStatus() != 0 {
			logData, _ := os.ReadFile(agent.Log)
			t.Fatalf("agent: %v, exit status %d\n%s", err, ws.ExitStatus(), logData)
		}
	case <-time.After(30 * time.Second):
		logData, _ := os.ReadFile(agent.Log)
		t.Fatalf("agent did not exit after the container did\n%s", logData)
	}
	logData, _ := os.ReadFile(agent.Log)
	t.Logf("agent log:\n%s", strings.TrimSpace(string(logData)))
	if !strings.Contains(string(logData), "from 3 filter(s)") {
		t.Errorf("expected 3 filters (init and two execs) in the log")
	}
	for _, p := range []string{agent.Socket, agent.Profile} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s left behind", p)
		}
	}
	final := loadProfile(t, out)
	if !slices.Contains(final.Syscalls[0].Names, "get_mempolicy") {
		t.Errorf("final profile lacks the exec'd process's get_mempolicy")
	}
	// Replay on every runtime.
	for _, rt := range runtimes() {
		rb := withProfile(t, recordBundle(t, "sh", "-c", "echo ready; while [ ! -e /proc/self ]; do sleep 0.1; done; echo bye"), final, false, true)
		if got, err := runtimeRun(t, rt, newEnv(t, rt).Root, rb, "replay-agent"); err != nil || got != "ready\nbye\n" {
			t.Errorf("replay on %s: %v %q", rt.Name, err, got)
		}
	}
	var recorded int
	for _, l := range strings.Split(string(logData), "\n") {
		if strings.Contains(l, "(final)") {
			recorded = recordedCount(l)
		}
	}
	return countRow{"busybox loop + `exec probe`, via record.Prepare (create/start, noNewPrivileges)", rt.Name, recorded, allowedCount(final)}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if ok() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// dockerAllowed is the number of syscall names Docker's default profile
// lets run (outright or for some arguments) for a container with the 14
// stock capabilities, resolved for this host.
func dockerAllowed(t *testing.T) int {
	p, err := profiles.LevelNamed(profiles.RuntimeDefault).Seccomp(profiles.StockCaps())
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	for _, r := range p.Syscalls {
		if profiles.Permissive(r.Action) {
			for _, n := range r.Names {
				set[n] = true
			}
		}
	}
	return len(set)
}

func writeCounts(t *testing.T, rows []countRow) {
	docker := dockerAllowed(t)
	var sb strings.Builder
	sb.WriteString("<!-- Generated by TestRecord: SECRUN_INTEGRATION=1 SECRUN_WRITE_TABLE=1 go test -count=1 -run TestRecord ./integration/ -->\n")
	sb.WriteString("| workload | recorded with | syscalls recorded | allowed by the recorded profile | allowed by Docker's default |\n|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&sb, "| %s | %s | %d | %d | %d |\n", r.Workload, r.RecordedWith, r.Recorded, r.Allowed, docker)
	}
	sb.WriteString("\n\"Allowed\" counts distinct syscall names a profile lets run, outright or for some arguments. A recorded profile adds to what the recording saw `write` (never notified: runc forbids it) and the calls runc and crun make after loading the filter (`profiles/tool.RuntimeBase`), so that it starts under runc 1.1, runc 1.5 and crun.\n")
	t.Logf("syscall counts:\n%s", sb.String())
	if os.Getenv("SECRUN_WRITE_TABLE") == "1" && !t.Failed() {
		if err := os.WriteFile("testdata/record-counts.md", []byte(sb.String()), 0o644); err != nil {
			t.Error(err)
		}
	}
}
