package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestServers records real servers from Debian bookworm (redis-server,
// nginx) driven by their own clients (redis-cli, curl), on runc 1.1, runc
// 1.5 and crun, and checks the recording the way a user would use it:
//   - replayed through secrun, picked by the pod annotation
//     secrun.io/seccomp-profile and as the node's [seccomp] profile, the
//     same workload runs with no denial (secrun monitor, findings on) and
//     the server stops cleanly on SIGTERM (exit 0); its init has a filter
//     and no-new-privileges, and the static probe exec'd into it is denied
//     keyctl, ptrace and new user namespaces (unshare, clone), denials the
//     monitor reports;
//   - the recording allows at most 30% of the names Docker's default does;
//   - the tune loop: an ordinary admin workload the recording never saw
//     (redis BGSAVE and CONFIG REWRITE; nginx reload on SIGHUP with a new
//     reverse-proxy location, log reopen on SIGUSR1) fails enforced, runs in complain mode with the
//     monitor naming only calls the recording lacks, and `secrun findings
//     summarize --profile` + `secrun profile merge` give a profile under
//     which both workloads run enforced with no denial.
//
// The root comes from script/server-rootfs.sh (cached under
// /var/cache/secrun-test), or SECRUN_SERVERS_ROOTFS. Servers bind
// 127.0.0.1 on free ports with the host's network: traffic stays on
// loopback.
func TestServers(t *testing.T) {
	root := serverRootfs(t)
	for _, srv := range []*server{redisServer(), nginxServer()} {
		t.Run(srv.name, func(t *testing.T) {
			for _, rt := range runtimes() {
				t.Run(rt.Name, func(t *testing.T) {
					needRuntime(t, rt)
					testServer(t, root, srv, rt)
				})
			}
		})
	}
}

var (
	serverRootfsOnce sync.Once
	serverRootfsPath string
	serverRootfsErr  error
)

// serverRootfs builds (first run) or reuses the cached Debian root.
func serverRootfs(t *testing.T) string {
	t.Helper()
	serverRootfsOnce.Do(func() {
		if p := os.Getenv("SECRUN_SERVERS_ROOTFS"); p != "" {
			serverRootfsPath = p
			return
		}
		start := time.Now()
		var stderr bytes.Buffer
		cmd := exec.Command("bash", "../script/server-rootfs.sh")
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			serverRootfsErr = fmt.Errorf("script/server-rootfs.sh: %v\n%s", err, stderr.String())
			return
		}
		serverRootfsPath = strings.TrimSpace(string(out))
		t.Logf("server root %s ready in %v", serverRootfsPath, time.Since(start).Round(time.Millisecond))
	})
	if serverRootfsErr != nil {
		if required() {
			t.Fatal(serverRootfsErr)
		}
		t.Skip(serverRootfsErr)
	}
	return serverRootfsPath
}

// server describes one real server and the workloads that drive it.
type server struct {
	name string
	// args is the container's command; setup writes its files into dir,
	// which the container sees read-write at /srv.
	args  []string
	setup func(t *testing.T, dir string, port int)
	// ordinary is the everyday workload the recording sees; admin is the
	// one it does not (tune loop). Each returns an error when the server
	// does not answer as it should.
	ordinary, admin func(s *serving) error
	// exes are the server's executables, to recognise its records.
	exes map[string]bool
}

// serving is a server container being driven.
type serving struct {
	t      *testing.T
	root   string // the server rootfs (clients run from it, chrooted)
	port   int
	dir    string                 // /srv inside
	signal func(sig string) error // sends a signal to the container
	cmd    *exec.Cmd              // secrun run / secrun record, in the foreground
	done   chan struct{}          // closed when cmd has exited
	err    error                  // cmd's exit, once done
	out    *bytes.Buffer          // its stdout and stderr
	kill   func()                 // force-deletes the container
	id     string
	env    *Env
}

// lockedWriter lets the command's stdout and stderr share one buffer.
type lockedWriter struct{ w *bytes.Buffer }

func (l *lockedWriter) Write(p []byte) (int, error) {
	outMu.Lock()
	defer outMu.Unlock()
	return l.w.Write(p)
}

var outMu sync.Mutex

func (s *serving) output() string {
	outMu.Lock()
	defer outMu.Unlock()
	return s.out.String()
}

// client runs one of the root's clients chrooted on the host (so it is not
// part of the container's recording) and returns its stdout.
func (s *serving) client(args ...string) (string, error) {
	return s.clientIn("", args...)
}

func (s *serving) clientIn(stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "chroot", append([]string{s.root}, args...)...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/tmp"}
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// waitUp retries check until it succeeds (the server is listening), or
// the container has exited.
func (s *serving) waitUp(check func() error) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := check()
		if err == nil {
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("the container exited (%v): %v", s.err, err)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server not up: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// serverBundle is a bundle running srv from the Debian root (read-only),
// with the host network, tmpfs on the paths servers write and dir at /srv.
func serverBundle(t *testing.T, root string, srv *server, dir string) *Bundle {
	b := newBundle(t, srv.args...)
	b.Spec["root"] = map[string]any{"path": root, "readonly": true}
	mounts := b.Spec["mounts"].([]any)
	for _, p := range []string{"/run", "/tmp", "/var/lib/nginx", "/var/log/nginx", "/var/lib/redis", "/var/log/redis"} {
		mounts = append(mounts, map[string]any{"destination": p, "type": "tmpfs", "source": "tmpfs", "options": []string{"nosuid", "nodev", "mode=0755"}})
	}
	mounts = append(mounts, map[string]any{"destination": "/srv", "type": "bind", "source": dir, "options": []string{"rbind", "rw"}})
	// The harness's static probe, for calls the server must not make.
	mounts = append(mounts, map[string]any{"destination": "/usr/local/bin/secrun-probe", "type": "bind", "source": probe, "options": []string{"bind", "ro"}})
	b.Spec["mounts"] = mounts
	hostNetwork(t, b)
	return b
}

// serverDir is a fresh /srv for one container, set up by srv.
func serverDir(t *testing.T, srv *server, port int) string {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil { // the workers (www-data) read it
		t.Fatal(err)
	}
	srv.setup(t, dir, port)
	return dir
}

// startServing starts cmd (stdout and stderr to a buffer) for container id.
func startServing(t *testing.T, root string, port int, dir, id string, cmd *exec.Cmd, signal func(string) error, kill func()) *serving {
	t.Helper()
	s := &serving{t: t, root: root, port: port, dir: dir, cmd: cmd, out: &bytes.Buffer{}, signal: signal, kill: kill, id: id, done: make(chan struct{})}
	lw := &lockedWriter{w: s.out}
	cmd.Stdout, cmd.Stderr = lw, lw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.err = cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			kill()
			cmd.Process.Kill()
			<-s.done
		}
	})
	return s
}

// stop sends SIGTERM and waits for the foreground command: nil is a clean
// exit (status 0).
func (s *serving) stop() error {
	if err := s.signal("TERM"); err != nil {
		return err
	}
	select {
	case <-s.done:
		return s.err
	case <-time.After(30 * time.Second):
		s.kill()
		s.cmd.Process.Kill()
		<-s.done
		return fmt.Errorf("%s did not exit within 30 s of SIGTERM", s.id)
	}
}

// abort force-deletes the container (a run whose server may be broken).
func (s *serving) abort() {
	s.kill()
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// recordServer records srv under rt while running the given workloads, and
// returns the profile's path and the recorder's summary.
func recordServer(t *testing.T, root string, srv *server, rt Runtime, id string, workloads ...func(*serving) error) (string, string) {
	t.Helper()
	port := freePort(t)
	dir := serverDir(t, srv, port)
	b := serverBundle(t, root, srv, dir)
	stateRoot := t.TempDir()
	out := filepath.Join(t.TempDir(), srv.name+".json")
	// secrun record runs the container under the node policy, as the
	// replay will be: here the default policy, host network allowed.
	conf := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(conf, []byte("[podsecurity]\nallow = [\"host-network\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(secrun, "record", "--output", out, "--bundle", b.Dir, "--runtime", rt.Path, "--root", stateRoot, id)
	cmd.Env = append(os.Environ(), "SECRUN_CONFIG="+conf)
	sig := func(sig string) error {
		if o, err := exec.Command(rt.Path, "--root", stateRoot, "kill", id, sig).CombinedOutput(); err != nil {
			return fmt.Errorf("%s kill %s: %v %s", rt.Name, sig, err, o)
		}
		return nil
	}
	kill := func() { exec.Command(rt.Path, "--root", stateRoot, "delete", "--force", id).Run() }
	s := startServing(t, root, port, dir, id, cmd, sig, kill)
	for _, w := range workloads {
		if err := w(s); err != nil {
			s.abort()
			t.Fatalf("while recording: %v\n%s", err, s.output())
		}
	}
	if err := s.stop(); err != nil {
		t.Fatalf("record: %v\n%s", err, s.output())
	}
	return out, s.output()
}

// serveSecrun runs srv through `secrun run` in env e.
func serveSecrun(t *testing.T, root string, srv *server, e *Env, id string, annotations map[string]string) *serving {
	t.Helper()
	port := freePort(t)
	dir := serverDir(t, srv, port)
	b := serverBundle(t, root, srv, dir)
	if len(annotations) > 0 {
		b.Spec["annotations"] = annotations
		b.Save(t)
	}
	cmd := e.Cmd("", "run", "--bundle", b.Dir, id)
	sig := func(sig string) error {
		if o, err := e.Cmd("", "kill", id, sig).CombinedOutput(); err != nil {
			return fmt.Errorf("secrun kill %s: %v %s", sig, err, o)
		}
		return nil
	}
	kill := func() { e.Cmd("", "delete", "--force", id).Run() }
	s := startServing(t, root, port, dir, id, cmd, sig, kill)
	s.env = e
	return s
}

// serverEnv is an Env whose profiles_dir holds the profile at path as NAME.
func serverEnv(t *testing.T, rt Runtime, name, path, seccomp string) *Env {
	t.Helper()
	e := newEnv(t, rt)
	pdir := filepath.Join(t.TempDir(), "profiles")
	if err := os.Mkdir(pdir, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pdir, name+".json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	e.WriteConfig(t, fmt.Sprintf("profiles_dir = %q\n%s[podsecurity]\nallow = [\"host-network\"]\n[monitor]\nfindings = true\n", pdir, seccomp))
	return e
}

// denials are the monitor's findings for container id, by syscall, but for
// "compat" answers: profiles answer clone3 ENOSYS on purpose so that glibc
// falls back to clone, and with findings on the kernel logs that answer.
func denials(lines []map[string]any, id string) map[string]map[string]any {
	f := findingsOf(lines, id)
	for n, l := range f {
		if l["action"] == "compat" {
			delete(f, n)
		}
	}
	return f
}

// settle waits until the monitor has read what the kernel logged for a
// container that just stopped: its records arrive in well under a second
// from the audit source.
func settle(*runningMonitor) { time.Sleep(1500 * time.Millisecond) }

func outrightNames(p *specs.LinuxSeccomp) map[string]bool {
	set := map[string]bool{}
	for _, r := range p.Syscalls {
		if r.Action == specs.ActAllow && len(r.Args) == 0 {
			for _, n := range r.Names {
				set[n] = true
			}
		}
	}
	return set
}

func allowedNameSet(p *specs.LinuxSeccomp) map[string]bool {
	set := map[string]bool{}
	for _, r := range p.Syscalls {
		if r.Action == specs.ActAllow || r.Action == specs.ActLog {
			for _, n := range r.Names {
				set[n] = true
			}
		}
	}
	return set
}

func sortedSet(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func testServer(t *testing.T, root string, srv *server, rt Runtime) {
	// 1. Record the ordinary workload, the whole life: start, clients,
	// SIGTERM.
	prof, summary := recordServer(t, root, srv, rt, "rec-"+srv.name, srv.ordinary)
	t.Logf("recorded: %s", lastLine(summary))
	p := loadProfile(t, prof)
	docker := dockerAllowed(t)
	allowed := allowedCount(p)
	t.Logf("%s recorded on %s: %d syscalls recorded, %d allowed by the profile, Docker's default allows %d (%.0f%%)",
		srv.name, rt.Name, recordedCount(summary), allowed, docker, 100*float64(allowed)/float64(docker))
	if float64(allowed) > 0.3*float64(docker) {
		t.Errorf("the recording allows %d names, more than 30%% of Docker's %d", allowed, docker)
	}

	// 2. Replay through secrun, the recording picked by annotation and as
	// the node's profile: the same workload, no denial, clean stop.
	replay := func(t *testing.T, e *Env, id, profile string, ann map[string]string, workloads ...func(*serving) error) {
		t.Helper()
		m := startMonitor(t, "auto", e.Root)
		s := serveSecrun(t, root, srv, e, id, ann)
		for _, w := range workloads {
			if err := w(s); err != nil {
				s.abort()
				t.Fatalf("%v\n%s", err, s.output())
			}
		}
		s.checkConfined(t, profile)
		// From inside: what the server never did is denied, namespaces
		// included (a recording is bounded by runtime-default).
		out, err := s.env.Cmd("", "exec", id, "secrun-probe", "sys", "getppid", "keyctl", "unshare-user", "clone-newuser", "ptrace").CombinedOutput()
		if f := fields(string(out)); err != nil || f["getppid"] != "ok" || f["keyctl"] != "EPERM" || f["unshare-user"] != "EPERM" ||
			f["clone-newuser"] != "EPERM" || f["ptrace"] != "EPERM" {
			t.Errorf("probe exec'd into the server: %v\n%s", err, out)
		}
		if err := s.stop(); err != nil {
			t.Fatalf("stop: %v (want exit 0 after SIGTERM)\n%s", err, s.output())
		}
		settle(m)
		// The server's own calls: no denial. The probe's: denied, which
		// shows the monitor was listening (where the runtime takes
		// SECCOMP_FILTER_FLAG_LOG; runc 1.1 refuses every flag). A process
		// that exits before the monitor looks (the probe, a save child) is
		// "unattributed": those count by their executable.
		lines := m.lines(t)
		d := denials(lines, id)
		var probed map[string]any
		for _, l := range lines {
			if l["type"] != "unattributed" && l["container_id"] != id || l["action"] == "compat" {
				continue
			}
			switch {
			case l["comm"] == "secrun-probe":
				if l["syscall"] == "keyctl" {
					probed = l
				}
				delete(d, fmt.Sprint(l["syscall"]))
			case l["type"] == "unattributed" && srv.exes[fmt.Sprint(l["exe"])]:
				d[fmt.Sprint(l["syscall"])] = l
			}
		}
		if len(d) > 0 {
			t.Errorf("the server was denied calls under the profile: %v\n%s", sortedKeysOf(d), dump(lines))
		}
		if !supportsLogFlag(rt) {
			t.Logf("%s does not support SECCOMP_FILTER_FLAG_LOG: the workload's success is the check", rt.Name)
		} else if probed == nil || probed["action"] != "denied" {
			t.Errorf("the probe's keyctl denial was not reported: %v\n%s", probed, dump(lines))
		}
	}
	t.Run("annotation", func(t *testing.T) {
		e := serverEnv(t, rt, "rec-"+srv.name, prof, "")
		replay(t, e, "ann-"+srv.name, "rec-"+srv.name, map[string]string{"secrun.io/seccomp-profile": "rec-" + srv.name}, srv.ordinary)
	})
	t.Run("node-profile", func(t *testing.T) {
		e := serverEnv(t, rt, "rec-"+srv.name, prof, fmt.Sprintf("[seccomp]\nprofile = %q\n", "rec-"+srv.name))
		replay(t, e, "node-"+srv.name, "rec-"+srv.name, nil, srv.ordinary)
	})

	// 3. The tune loop.
	t.Run("tune", func(t *testing.T) {
		node := fmt.Sprintf("[seccomp]\nprofile = %q\n", "rec-"+srv.name)
		// Enforced, the admin workload fails.
		e := serverEnv(t, rt, "rec-"+srv.name, prof, node)
		em := startMonitor(t, "auto", e.Root)
		s := serveSecrun(t, root, srv, e, "enf-"+srv.name, nil)
		if err := srv.ordinary(s); err != nil {
			s.abort()
			t.Fatalf("ordinary workload, enforced: %v\n%s", err, s.output())
		}
		err := srv.admin(s)
		s.abort()
		if err == nil {
			t.Fatalf("the admin workload ran under the recording of the ordinary one:\n%s", s.output())
		}
		settle(em)
		// The monitor sees these denials (where the runtime takes
		// SECCOMP_FILTER_FLAG_LOG): the replays' silence above means
		// something.
		denied := denials(em.lines(t), "enf-"+srv.name)
		t.Logf("enforced, the admin workload fails: %v; the monitor reports denied %v", err, sortedKeysOf(denied))
		if supportsLogFlag(rt) && len(denied) == 0 {
			t.Errorf("the admin workload failed enforced, yet the monitor reported no denial:\n%s", dump(em.lines(t)))
		}
		for n, f := range denied {
			if f["action"] != "denied" || outrightNames(p)[n] {
				t.Errorf("enforced run: finding %v (the recording allows %s outright: %v)", f, n, outrightNames(p)[n])
			}
		}

		// Complain mode lets it through; the monitor names what is missing.
		ce := serverEnv(t, rt, "rec-"+srv.name, prof, node+"mode = \"complain\"\n")
		m := startMonitor(t, "auto", ce.Root)
		id := "complain-" + srv.name
		s = serveSecrun(t, root, srv, ce, id, nil)
		for _, w := range []func(*serving) error{srv.ordinary, srv.admin} {
			if err := w(s); err != nil {
				s.abort()
				t.Fatalf("complain mode: %v\n%s", err, s.output())
			}
		}
		if err := s.stop(); err != nil {
			t.Fatalf("complain mode stop: %v\n%s", err, s.output())
		}
		settle(m)
		logged := map[string]bool{}
		for name, f := range findingsOf(m.lines(t), id) {
			if f["action"] != "logged" {
				t.Errorf("complain mode finding %v", f)
			}
			logged[name] = true
		}
		for _, l := range m.lines(t) {
			// A child that exited before the monitor looked (the save):
			// not in the summary's profile, so the tuned run would fail.
			if l["type"] == "unattributed" && srv.exes[fmt.Sprint(l["exe"])] && !logged[fmt.Sprint(l["syscall"])] {
				t.Logf("complain mode: %s logged by a process the monitor could not attribute: %v", l["syscall"], l)
			}
		}
		m.stop(t)
		if len(logged) == 0 {
			t.Fatalf("complain mode logged nothing, yet the workload failed enforced:\n%s", dump(m.lines(t)))
		}
		// Exactly the missing calls: none the recording allows outright
		// (nothing reported that was not missing), and (below) with them
		// added both workloads run enforced (nothing missing unreported).
		out := outrightNames(p)
		for n := range logged {
			if out[n] {
				t.Errorf("%s was logged, yet the recording allows it", n)
			}
		}
		// For the record, what a recording of both workloads adds: the same
		// calls, give or take those that vary from run to run (nginx reads
		// a proxied response with recvfrom or readv, as it arrives).
		whole, wsum := recordServer(t, root, srv, rt, "rec-whole-"+srv.name, srv.ordinary, srv.admin)
		wp := loadProfile(t, whole)
		var missing []string
		for n := range allowedNameSet(wp) {
			if !allowedNameSet(p)[n] {
				missing = append(missing, n)
			}
		}
		slices.Sort(missing)
		t.Logf("complain mode logged %v; a recording of both workloads (%d recorded, %d allowed) adds %v to the first",
			sortedSet(logged), recordedCount(wsum), allowedCount(wp), missing)

		// summarize --profile + profile merge: both workloads enforced.
		patch := filepath.Join(t.TempDir(), "patch.json")
		if o, err := exec.Command(secrun, "findings", "summarize", "--profile", patch, m.out).CombinedOutput(); err != nil {
			t.Fatalf("findings summarize --profile: %v\n%s", err, o)
		}
		tuned := filepath.Join(t.TempDir(), "tuned.json")
		if o, err := exec.Command(secrun, "profile", "merge", "--output", tuned, prof, patch).CombinedOutput(); err != nil {
			t.Fatalf("profile merge: %v\n%s", err, o)
		}
		tp := loadProfile(t, tuned)
		// The merge adds what was logged, and nothing else.
		tset, pset := allowedNameSet(tp), allowedNameSet(p)
		for n := range logged {
			if !outrightNames(tp)[n] {
				t.Errorf("%s was logged but the tuned profile does not allow it outright", n)
			}
		}
		for n := range tset {
			if !pset[n] && !logged[n] {
				t.Errorf("the tuned profile allows %s, neither recorded nor logged", n)
			}
		}
		t.Logf("tuned profile: %d allowed (recording %d, Docker %d)", allowedCount(tp), allowed, docker)
		if float64(allowedCount(tp)) > 0.3*float64(docker) {
			t.Errorf("the tuned profile allows %d names, more than 30%% of Docker's %d", allowedCount(tp), docker)
		}
		te := serverEnv(t, rt, "tuned-"+srv.name, tuned, fmt.Sprintf("[seccomp]\nprofile = %q\n", "tuned-"+srv.name))
		replay(t, te, "tuned-"+srv.name, "tuned-"+srv.name, nil, srv.ordinary, srv.admin)
	})
}

// checkConfined reads the container's init from the host: secrun's
// policy applied (seccomp filter mode, no-new-privileges) and marked with
// the profile's name.
func (s *serving) checkConfined(t *testing.T, profile string) {
	t.Helper()
	out, err := s.env.Cmd("", "state", s.id).Output()
	if err != nil {
		t.Fatalf("state %s: %v", s.id, err)
	}
	var st specs.State
	if err := json.Unmarshal(out, &st); err != nil || st.Pid <= 0 {
		t.Fatalf("state %s: %v %s", s.id, err, out)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", st.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if f := fields(string(status)); f["Seccomp"] != "2" || f["NoNewPrivs"] != "1" {
		t.Errorf("the server's init (pid %d): Seccomp %q, NoNewPrivs %q; want 2 and 1", st.Pid, f["Seccomp"], f["NoNewPrivs"])
	}
	// "rec-redis/enforce" as the node's profile, "runtime-default+rec-redis/enforce"
	// when the pod picked it.
	if p := st.Annotations["secrun.io/policy"]; !strings.HasSuffix(p, profile+"/enforce") {
		t.Errorf("secrun.io/policy = %q, want ...%s/enforce", p, profile)
	}
}

func sortedKeysOf(m map[string]map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// redisServer: redis-server 7.0 from its own config file in /srv.
func redisServer() *server {
	return &server{
		name: "redis",
		exes: map[string]bool{"/usr/bin/redis-server": true, "/usr/bin/redis-check-rdb": true},
		args: []string{"redis-server", "/srv/redis.conf"},
		setup: func(t *testing.T, dir string, port int) {
			conf := fmt.Sprintf("bind 127.0.0.1\nport %d\nprotected-mode yes\ndaemonize no\nsupervised no\n"+
				"logfile \"\"\ndir /srv\ndbfilename dump.rdb\nsave \"\"\nappendonly no\n", port)
			if err := os.WriteFile(filepath.Join(dir, "redis.conf"), []byte(conf), 0o644); err != nil {
				t.Fatal(err)
			}
		},
		ordinary: redisOrdinary,
		admin:    redisAdmin,
	}
}

func (s *serving) redis(args ...string) (string, error) {
	out, err := s.client(append([]string{"redis-cli", "-h", "127.0.0.1", "-p", fmt.Sprint(s.port)}, args...)...)
	out = strings.TrimSpace(out)
	if err == nil && strings.HasPrefix(out, "ERR") {
		err = fmt.Errorf("redis-cli %s: %s", strings.Join(args, " "), out)
	}
	return out, err
}

// redisOrdinary: what a cache sees every day.
func redisOrdinary(s *serving) error {
	if err := s.waitUp(func() error {
		out, err := s.redis("PING")
		if err == nil && out != "PONG" {
			err = fmt.Errorf("PING: %q", out)
		}
		return err
	}); err != nil {
		return err
	}
	want := func(got string, err error, w string, what string) error {
		if err != nil {
			return err
		}
		if got != w {
			return fmt.Errorf("%s: %q, want %q", what, got, w)
		}
		return nil
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"FLUSHALL"}, "OK"},
		{[]string{"SET", "greeting", "hello"}, "OK"},
		{[]string{"GET", "greeting"}, "hello"},
		{[]string{"APPEND", "greeting", " world"}, "11"},
		{[]string{"MSET", "a", "1", "b", "2"}, "OK"},
		{[]string{"MGET", "a", "b"}, "1\n2"},
		{[]string{"INCR", "counter"}, "1"},
		{[]string{"INCRBY", "counter", "41"}, "42"},
		{[]string{"LPUSH", "queue", "x", "y", "z"}, "3"},
		{[]string{"LRANGE", "queue", "0", "-1"}, "z\ny\nx"},
		{[]string{"HSET", "user:1", "name", "ada", "lang", "en"}, "2"},
		{[]string{"HGET", "user:1", "name"}, "ada"},
		{[]string{"SADD", "tags", "a", "b", "c"}, "3"},
		{[]string{"SCARD", "tags"}, "3"},
		{[]string{"EXPIRE", "greeting", "100"}, "1"},
		{[]string{"DEL", "a", "b"}, "2"},
		{[]string{"DBSIZE"}, "5"},
	} {
		out, err := s.redis(c.args...)
		if err := want(out, err, c.want, strings.Join(c.args, " ")); err != nil {
			return err
		}
	}
	// A 256 KiB value through stdin, and a pipeline of 1000 INCRs.
	big := strings.Repeat("0123456789abcdef", 16<<10)
	if out, err := s.clientIn(big, "redis-cli", "-h", "127.0.0.1", "-p", fmt.Sprint(s.port), "-x", "SET", "big"); err != nil || strings.TrimSpace(out) != "OK" {
		return fmt.Errorf("SET big: %q %v", out, err)
	}
	if out, err := s.redis("STRLEN", "big"); err != nil || out != fmt.Sprint(len(big)) {
		return fmt.Errorf("STRLEN big: %q %v", out, err)
	}
	var pipe strings.Builder
	for i := 0; i < 1000; i++ {
		pipe.WriteString("INCR hits\r\n")
	}
	if out, err := s.clientIn(pipe.String(), "redis-cli", "-h", "127.0.0.1", "-p", fmt.Sprint(s.port), "--pipe"); err != nil || !strings.Contains(out, "replies: 1000") {
		return fmt.Errorf("--pipe: %q %v", out, err)
	}
	if out, err := s.redis("GET", "hits"); err != nil || out != "1000" {
		return fmt.Errorf("GET hits: %q %v", out, err)
	}
	if out, err := s.redis("INFO", "server"); err != nil || !strings.Contains(out, "redis_version:7.") {
		return fmt.Errorf("INFO server: %v %.200q", err, out)
	}
	return nil
}

// redisAdmin: a background save and a config rewrite, both checked on disk.
func redisAdmin(s *serving) error {
	if out, err := s.redis("BGSAVE"); err != nil || !strings.Contains(out, "Background saving started") {
		return fmt.Errorf("BGSAVE: %q %v", out, err)
	}
	// A few hundred keys save in milliseconds: a save still running
	// after 10 s is stuck (as when its child's calls are denied).
	var info string
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		info, err = s.redis("INFO", "persistence")
		if err == nil && !strings.Contains(info, "rdb_bgsave_in_progress:0") {
			err = errors.New("save still in progress after 10 s")
		}
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || !strings.Contains(info, "rdb_last_bgsave_status:ok") {
		return fmt.Errorf("BGSAVE did not succeed: %v (%s)", err, infoLine(info, "rdb_last_bgsave_status"))
	}
	if _, err := os.Stat(filepath.Join(s.dir, "dump.rdb")); err != nil {
		return fmt.Errorf("BGSAVE: %v", err)
	}
	if out, err := s.redis("CONFIG", "SET", "maxmemory", "100mb"); err != nil || out != "OK" {
		return fmt.Errorf("CONFIG SET: %q %v", out, err)
	}
	if out, err := s.redis("CONFIG", "REWRITE"); err != nil || out != "OK" {
		return fmt.Errorf("CONFIG REWRITE: %q %v", out, err)
	}
	if data, _ := os.ReadFile(filepath.Join(s.dir, "redis.conf")); !bytes.Contains(data, []byte("maxmemory 100mb")) {
		return fmt.Errorf("CONFIG REWRITE did not write maxmemory:\n%s", data)
	}
	return nil
}

func infoLine(info, key string) string {
	for _, l := range strings.Split(info, "\n") {
		if strings.HasPrefix(l, key+":") {
			return strings.TrimSpace(l)
		}
	}
	return key + " missing"
}

// nginxServer: nginx (Debian's nginx-light) with a master and two workers
// running as www-data, serving files from /srv/www.
func nginxServer() *server {
	return &server{
		name: "nginx",
		exes: map[string]bool{"/usr/sbin/nginx": true},
		args: []string{"nginx", "-c", "/srv/nginx.conf", "-e", "stderr"},
		setup: func(t *testing.T, dir string, port int) {
			www := filepath.Join(dir, "www")
			os.MkdirAll(www, 0o755)
			files := map[string]string{
				"index.html": "<h1>hello from nginx</h1>\n",
				"page2.html": "<p>second page</p>\n",
				"big.bin":    strings.Repeat("nginx sendfile\n", 1<<16),
			}
			for n, c := range files {
				if err := os.WriteFile(filepath.Join(www, n), []byte(c), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			writeNginxConf(t, dir, port, "")
		},
		ordinary: nginxOrdinary,
		admin:    nginxAdmin,
	}
}

func writeNginxConf(t *testing.T, dir string, port int, extra string) {
	conf := fmt.Sprintf(`daemon off;
master_process on;
worker_processes 2;
user www-data;
pid /run/nginx.pid;
error_log stderr notice;
events { worker_connections 64; }
http {
	include /etc/nginx/mime.types;
	access_log /var/log/nginx/access.log;
	sendfile on;
	keepalive_timeout 5;
	server {
		listen 127.0.0.1:%d;
		root /srv/www;
		index index.html;
		location = /gone { return 410; }
		%s
	}
}
`, port, extra)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (s *serving) curl(args ...string) (string, error) {
	return s.client(append([]string{"curl", "-sS", "--max-time", "10"}, args...)...)
}

func (s *serving) url(path string) string { return fmt.Sprintf("http://127.0.0.1:%d%s", s.port, path) }

// nginxOrdinary: pages, a large file (sendfile), errors, HEAD, keep-alive
// and parallel requests.
func nginxOrdinary(s *serving) error {
	if err := s.waitUp(func() error {
		out, err := s.curl("-f", s.url("/"))
		if err == nil && out != "<h1>hello from nginx</h1>\n" {
			err = fmt.Errorf("GET /: %q", out)
		}
		return err
	}); err != nil {
		return err
	}
	if out, err := s.curl("-f", s.url("/page2.html")); err != nil || out != "<p>second page</p>\n" {
		return fmt.Errorf("GET /page2.html: %q %v", out, err)
	}
	if out, err := s.curl("-f", "-o", "/dev/null", "-w", "%{size_download}", s.url("/big.bin")); err != nil || out != fmt.Sprint(15<<16) {
		return fmt.Errorf("GET /big.bin: %q bytes %v", out, err)
	}
	codes := []struct{ path, code string }{{"/missing", "404"}, {"/gone", "410"}, {"/", "200"}}
	for _, c := range codes {
		if out, err := s.curl("-o", "/dev/null", "-w", "%{http_code}", s.url(c.path)); err != nil || out != c.code {
			return fmt.Errorf("GET %s: %q %v, want %s", c.path, out, err, c.code)
		}
	}
	if out, err := s.curl("-I", s.url("/page2.html")); err != nil || !strings.Contains(out, "Content-Length: 19") {
		return fmt.Errorf("HEAD: %q %v", out, err)
	}
	// Ten requests on one keep-alive connection, then ten in parallel.
	var urls []string
	for i := 0; i < 10; i++ {
		urls = append(urls, s.url("/page2.html"))
	}
	for _, mode := range [][]string{nil, {"-Z"}} {
		args := append(append([]string{"-f", "-o", "/dev/null", "-w", "%{http_code}\n"}, mode...), urls...)
		out, err := s.curl(args...)
		if err != nil || strings.Count(out, "200") != 10 {
			return fmt.Errorf("ten requests %v: %q %v", mode, out, err)
		}
	}
	return nil
}

// nginxAdmin: a configuration change applied with SIGHUP (new workers from
// the new configuration) that adds a reverse-proxy location (here to the
// server itself, on loopback), then a log reopen with SIGUSR1 (log
// rotation).
func nginxAdmin(s *serving) error {
	writeNginxConf(s.t, s.dir, s.port, fmt.Sprintf("location = /version { return 200 \"v2\\n\"; }\n\t\tlocation /api/ { proxy_pass http://127.0.0.1:%d/; }", s.port))
	if err := s.signal("HUP"); err != nil {
		return err
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, err := s.curl(s.url("/version"))
		if err == nil && out == "v2\n" {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("reload (SIGHUP) not applied after 5 s: GET /version: %q %v", out, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Old workers finish their connections for a moment after the reload:
	// a request may still meet the old configuration (404) at first.
	var out string
	var err error
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if out, err = s.curl("-f", s.url("/api/page2.html")); err == nil || time.Now().After(deadline) {
			break
		}
	}
	for i := 0; i < 3; i++ {
		if i > 0 {
			out, err = s.curl("-f", s.url("/api/page2.html"))
		}
		if err != nil || out != "<p>second page</p>\n" {
			return fmt.Errorf("GET /api/page2.html (proxied): %q %v", out, err)
		}
	}
	if err := s.signal("USR1"); err != nil {
		return err
	}
	time.Sleep(300 * time.Millisecond)
	if out, err := s.curl("-f", s.url("/page2.html")); err != nil || out != "<p>second page</p>\n" {
		return fmt.Errorf("GET after the log reopen: %q %v", out, err)
	}
	return nil
}
