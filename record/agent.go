package record

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/secrun/secrun/config"
	"github.com/secrun/secrun/internal/atomicfile"
	"github.com/secrun/secrun/profiles/tool"
)

// AgentCommand is the hidden subcommand that runs the agent: secrun's
// command line must send `secrun record-agent ARGS...` to AgentMain(ARGS).
const AgentCommand = "record-agent"

// SocketDir is where agents' sockets and recording profiles go unless
// Options.SocketDir says otherwise (0700).
const SocketDir = "/run/secrun/record"

// Options tune Prepare.
type Options struct {
	// Format is FormatOCI or FormatSPO; empty picks by the output's
	// extension (.yaml/.yml: SPO).
	Format string
	// Name is the SeccompProfile's metadata.name (default: from the file).
	Name string
	// Exe is the binary run as the agent (default /proc/self/exe: this
	// secrun, even after secrun has exec'd the runtime or been upgraded).
	Exe string
	// ConnectTimeout is how long the agent waits for the runtime to send
	// the filter (runc does when it loads the filter: at create, or at
	// start when noNewPrivileges is set). Default 10 minutes.
	ConnectTimeout time.Duration
	// Log is the agent's log file (default: the output path + ".log").
	Log string
	// Root, when set, is the directory the output and the log must be
	// under: they are written there without following symlinks
	// (beneath.go). Prepare sets it to the node's recordings_dir.
	Root string
	// SocketDir holds the agent's socket and its recording profile
	// (default SocketDir; made 0700 and owned by secrun's user).
	SocketDir string
}

// Agent is a recording agent started by Prepare.
type Agent struct {
	PID     int
	Socket  string   // the spec's linux.seccomp.listenerPath
	Profile string   // the recording profile, which the agent reads
	Output  string   // where the profile is written at container exit
	Log     string   // the agent's log
	Args    []string // the agent's command line (Exe AgentCommand ...)
}

// Prepare sets up recording for container id, whose spec s has been through
// the policy (its linux.seccomp is the profile the container would run
// under, or nil): it replaces s.Linux.Seccomp with the recording profile
// (RecordingProfile of it, with listenerPath and listenerMetadata set),
// and starts a detached agent (Exe record-agent ...) that is listening
// when Prepare returns. The caller then saves s into config.json and execs
// the runtime. The agent outlives secrun, records until the last process
// under the container's filter exits, writes the profile to outPath
// (absolute) and exits; SIGUSR1 makes it write the profile so far without
// stopping. If the caller does not go on to start the container, it must
// call Agent.Cancel.
//
// outPath must be under the node config's recordings_dir (secrun create
// puts it there): the files are written beneath it without following
// symlinks.
func Prepare(s *specs.Spec, id, outPath string) (*Agent, error) {
	cfg, err := config.Load(config.Path())
	if err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	return PrepareWith(s, id, outPath, Options{Root: cfg.RecordingsDir})
}

// PrepareWith is Prepare with options.
func PrepareWith(s *specs.Spec, id, outPath string, opt Options) (*Agent, error) {
	if !filepath.IsAbs(outPath) {
		return nil, fmt.Errorf("record: output %q must be an absolute path", outPath)
	}
	check := checkWritable
	if opt.Root != "" {
		check = func(p string) error { return checkWritableBeneath(opt.Root, p) }
	}
	if err := check(outPath); err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	if opt.Format == "" {
		opt.Format = FormatFor(outPath)
	}
	if opt.Format != FormatOCI && opt.Format != FormatSPO {
		return nil, fmt.Errorf("record: format %q: use oci or spo", opt.Format)
	}
	if opt.Name == "" {
		opt.Name = tool.NameFromPath(outPath)
	} else if !tool.ValidK8sName(opt.Name) {
		return nil, fmt.Errorf("record: name %q is not a Kubernetes object name (lower-case letters, digits, '-' and '.')", opt.Name)
	}
	if opt.Exe == "" {
		opt.Exe = "/proc/self/exe"
	}
	if opt.ConnectTimeout == 0 {
		opt.ConnectTimeout = 10 * time.Minute
	}
	if opt.Log == "" {
		opt.Log = outPath + ".log"
	}
	var base *specs.LinuxSeccomp
	if s.Linux != nil {
		base = s.Linux.Seccomp
	}
	rec, err := RecordingProfile(base)
	if err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	if opt.SocketDir == "" {
		opt.SocketDir = SocketDir
	}
	dir, err := socketDir(opt.SocketDir)
	if err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	stem := filepath.Join(dir, shortID(id)+"-"+randomToken()[:8])
	a := &Agent{Socket: stem + ".sock", Profile: stem + ".json", Output: outPath, Log: opt.Log}
	token := randomToken()
	rec.ListenerPath, rec.ListenerMetadata = a.Socket, token
	data, _ := json.Marshal(rec)
	if err := os.WriteFile(a.Profile, data, 0o600); err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	a.Args = []string{opt.Exe, AgentCommand, "--socket", a.Socket, "--profile", a.Profile,
		"--output", outPath, "--format", opt.Format, "--name", opt.Name, "--id", id,
		"--connect-timeout", opt.ConnectTimeout.String(), "--ready-fd", "3"}
	if opt.Root != "" {
		a.Args = append(a.Args, "--root", opt.Root)
	}
	if err := a.start(opt.Log, opt.Root); err != nil {
		os.Remove(a.Profile)
		return nil, fmt.Errorf("record: starting the agent: %w", err)
	}
	if s.Linux == nil {
		s.Linux = &specs.Linux{}
	}
	s.Linux.Seccomp = rec
	return a, nil
}

// start runs the agent in its own session, stdio on /dev/null and the log,
// and waits until it listens (it writes "ok" on fd 3) or fails.
func (a *Agent) start(logPath, root string) error {
	var logf *os.File
	var err error
	if root != "" {
		logf, err = openBeneath(root, logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	} else {
		logf, err = os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	}
	if err != nil {
		return err
	}
	defer logf.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	defer null.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	defer pr.Close()
	cmd := &exec.Cmd{Path: a.Args[0], Args: append([]string{"secrun"}, a.Args[1:]...),
		Stdin: null, Stdout: logf, Stderr: logf, ExtraFiles: []*os.File{pw},
		SysProcAttr: &syscall.SysProcAttr{Setsid: true}, Dir: "/"}
	err = cmd.Start()
	pw.Close()
	if err != nil {
		return err
	}
	a.PID = cmd.Process.Pid
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(pr).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case s := <-line:
		if s == "ok" {
			cmd.Process.Release() // detached: reaped by whoever inherits it
			return nil
		}
		cmd.Wait()
		if s == "" {
			return fmt.Errorf("the agent exited before listening (see %s)", logPath)
		}
		return errors.New(s)
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		return fmt.Errorf("the agent did not start listening within 10s (see %s)", logPath)
	}
}

// Cancel stops an agent whose container will not be started, and removes
// its files.
func (a *Agent) Cancel() error {
	var err error
	if a.PID > 0 {
		if p, e := os.FindProcess(a.PID); e == nil {
			err = p.Signal(syscall.SIGKILL)
		}
	}
	os.Remove(a.Socket)
	os.Remove(a.Profile)
	return err
}

// AgentMain runs the hidden `secrun record-agent` command with the words
// after it, as Prepare starts it, and returns its exit status: 0 when the
// profile was written, 1 when not (the reason is in its log).
func AgentMain(args []string) int {
	fs := flag.NewFlagSet("secrun "+AgentCommand, flag.ContinueOnError)
	sock := fs.String("socket", "", "listen on this unix socket")
	profilePath := fs.String("profile", "", "the recording profile (JSON) the container runs under")
	output := fs.String("output", "", "write the profile here")
	format := fs.String("format", FormatOCI, "oci or spo")
	name := fs.String("name", "secrun-recorded", "SeccompProfile metadata.name")
	id := fs.String("id", "", "container ID (for the log)")
	connectTimeout := fs.Duration("connect-timeout", 10*time.Minute, "give up when no filter arrives in this time")
	readyFd := fs.Int("ready-fd", -1, "write \"ok\" (or the error) on this fd once listening")
	root := fs.String("root", "", "write the output under this directory, following no symlink below it")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	bound()
	closeInherited(*readyFd)
	var ready *os.File
	if *readyFd > 2 {
		ready = os.NewFile(uintptr(*readyFd), "ready")
	}
	logger := log.New(os.Stderr, fmt.Sprintf("secrun record-agent[%d] %s: ", os.Getpid(), *id), log.LstdFlags)
	failReady := func(format string, a ...any) int {
		msg := fmt.Sprintf(format, a...)
		logger.Print(msg)
		if ready != nil {
			fmt.Fprintln(ready, msg)
		}
		return 1
	}
	if *sock == "" || *profilePath == "" || *output == "" {
		return failReady("--socket, --profile and --output are required")
	}
	data, err := os.ReadFile(*profilePath)
	if err != nil {
		return failReady("%v", err)
	}
	var rec specs.LinuxSeccomp
	if err := json.Unmarshal(data, &rec); err != nil {
		return failReady("%s: %v", *profilePath, err)
	}
	os.Remove(*sock)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: *sock, Net: "unix"})
	if err != nil {
		return failReady("listening on %s: %v", *sock, err)
	}
	defer os.Remove(*profilePath)
	defer os.Remove(*sock)
	defer l.Close()
	// The container's calls wait for this process: a signal that would
	// kill it would turn every later call into ENOSYS. Only SIGKILL does.
	signal.Ignore(syscall.SIGINT, syscall.SIGHUP, syscall.SIGPIPE, syscall.SIGQUIT)
	flush := make(chan os.Signal, 4)
	signal.Notify(flush, syscall.SIGUSR1, syscall.SIGTERM)

	r := NewRecorder()
	r.Metadata = rec.ListenerMetadata
	r.Logf = logger.Printf
	go r.Serve(l)
	if ready != nil {
		fmt.Fprintln(ready, "ok")
		ready.Close()
	}
	logger.Printf("listening on %s; the profile goes to %s", *sock, *output)

	write := func(final bool) bool {
		snap := r.Snapshot()
		res := Build(&rec, sortedKeys(snap.Calls))
		out, err := Encode(res.Profile, *format, *name)
		if err != nil {
			logger.Printf("encoding the profile: %v", err)
			return false
		}
		path := *output
		if len(snap.Problems) > 0 {
			for _, p := range snap.Problems {
				logger.Printf("incomplete: %s", p)
			}
			path += ".partial"
		}
		if *root != "" {
			err = writeBeneath(*root, path, out, 0o644)
		} else {
			err = atomicfile.Write(path, out, 0o644)
		}
		if err != nil {
			logger.Printf("%v", err)
			return false
		}
		what := "so far"
		if final {
			what = "final"
		}
		logger.Printf("wrote %s (%s): %s; %d syscalls allowed (%d added for the runtime)",
			path, what, snap.summary(), res.Allowed, len(res.Runtime))
		return len(snap.Problems) == 0
	}

	timeout := time.After(*connectTimeout)
	for {
		select {
		case s := <-flush:
			logger.Printf("%v: writing the profile so far", s)
			write(false)
		case <-timeout:
			if r.Snapshot().Filters == 0 {
				r.Close()
				logger.Printf("no filter arrived within %s (the container was not started?): nothing recorded", *connectTimeout)
				return 1
			}
		case <-r.Done():
			l.Close()
			r.Close()
			if write(true) {
				return 0
			}
			return 1
		}
	}
}

// closeInherited closes the fds above stderr that were inherited (those
// without close-on-exec; the Go runtime opens its own with it), but keep:
// the agent must not hold the shim's pipes, console socket or preserved fds
// open (containerd waits for EOF on the container's stdio).
func closeInherited(keep int) {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= 2 || fd == keep {
			continue
		}
		if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil && flags&unix.FD_CLOEXEC == 0 {
			unix.Close(fd)
		}
	}
}

// socketDir makes dir (0700, a real directory owned by us).
func socketDir(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return "", err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != os.Geteuid() {
		return "", fmt.Errorf("%s is not a directory owned by uid %d", dir, os.Geteuid())
	}
	if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// shortID keeps socket paths under the 108-byte limit.
func shortID(id string) string {
	var b strings.Builder
	for _, r := range id {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			b.WriteRune(r)
		}
		if b.Len() >= 24 {
			break
		}
	}
	if b.Len() == 0 {
		return "c"
	}
	return b.String()
}

func randomToken() string {
	b := make([]byte, 16)
	if _, err := io.ReadFull(rand.Reader, b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// bound limits what the agent takes from the node. It runs outside the
// pod's cgroup (it starts before the runtime makes that cgroup), and every
// call the container makes under the recording filter is work for it: at
// most one CPU, and a soft memory ceiling (what it keeps, one counter per
// syscall, is small). Not a lower priority: the container's calls wait for
// the agent, so a starved agent stalls the container (and its start).
func bound() {
	runtime.GOMAXPROCS(1)
	debug.SetMemoryLimit(64 << 20)
}
