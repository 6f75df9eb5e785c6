package record

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/secrun/secrun/config"
	"github.com/secrun/secrun/internal/atomicfile"
	"github.com/secrun/secrun/profiles/tool"
	"github.com/secrun/secrun/spec"
)

// Usage is printed by `secrun record --help`.
const Usage = `usage: secrun record --output FILE [--format oci|spo] [--name NAME] [--bundle DIR]
                     [--runtime PATH] [--root DIR] [--wait DURATION] [-v] ID

Runs the container ID from the bundle in the foreground (like runc run; stdio
passed through) under a recording seccomp filter, and when it exits writes a
profile allowing exactly the syscalls it made, plus those runc and crun make
after loading the filter. The container runs under the node policy's
capabilities, no-new-privileges and seccomp profile (as secrun would run it);
that profile, or the bundle's own linux.seccomp merged with it, bounds what is
recorded ([seccomp] mode = "off" records without one). config.json is not
modified (a copy is run).
`

// Main runs `secrun record` with the words after it and returns the exit
// status: 0 when the profile was written, 1 when it was not (the recording
// may be incomplete, the container did not start...), 2 for bad usage. The
// container's own exit status is reported on stderr.
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("secrun record", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, Usage); fs.PrintDefaults() }
	output := fs.String("output", "", "write the profile to `FILE` (required)")
	format := fs.String("format", "", "oci (runtime-spec LinuxSeccomp JSON) or spo (SeccompProfile YAML); default: spo for .yaml/.yml, else oci")
	name := fs.String("name", "", "metadata.name of the SeccompProfile (default: from the output file name)")
	bundle := fs.String("bundle", ".", "bundle `DIR`ectory")
	fs.StringVar(bundle, "b", ".", "short for --bundle")
	runtimePath := fs.String("runtime", "", "runtime to run (default: $SECRUN_RUNTIME, else the node config's runtime, else runc)")
	root := fs.String("root", "", "--root passed to the runtime")
	verbose := fs.Bool("v", false, "list the syscalls recorded, with their counts, on stderr")
	wait := fs.Duration("wait", 10*time.Second, "after the runtime exits, how long processes left under the filter may take to exit")
	pos, err := tool.ParseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	} else if err != nil {
		return 2
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "secrun record: "+format+"\n", a...)
		return 1
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "secrun record: "+format+"\n", a...)
		fmt.Fprint(stderr, Usage)
		return 2
	}
	if len(pos) != 1 {
		return usage("give exactly one container ID (got %d arguments: %s)", len(pos), strings.Join(pos, " "))
	}
	id := pos[0]
	if *output == "" {
		return usage("--output FILE is required")
	}
	if *format == "" {
		*format = FormatFor(*output)
	}
	if *format != FormatOCI && *format != FormatSPO {
		return usage("--format %q: use oci or spo", *format)
	}
	if *name == "" {
		*name = tool.NameFromPath(*output)
	} else if !tool.ValidK8sName(*name) {
		return usage("--name %q is not a Kubernetes object name (lower-case letters, digits, '-' and '.')", *name)
	}
	if err := checkWritable(*output); err != nil {
		return fail("%v", err)
	}
	rt, err := findRuntime(*runtimePath)
	if err != nil {
		return fail("%v", err)
	}

	cfg, err := spec.LoadConfig(*bundle, "")
	if err != nil {
		return fail("%v", err)
	}
	// Record under the node policy, as secrun create would run the
	// container: the capabilities it keeps and no-new-privileges change
	// what the workload calls, and its seccomp profile bounds the
	// recording.
	node, err := config.Load(config.Path())
	if err != nil {
		return fail("%v", err)
	}
	pol, _, err := node.PolicyFor(nil, cfg.Spec.Annotations)
	if err != nil {
		return fail("%v", err)
	}
	changes, err := pol.ApplyRecording(cfg.Spec)
	if err != nil {
		return fail("%s: refused by the node policy (%s): %v", cfg.Path, pol.Source, err)
	}
	orig, err := cfg.Encode()
	if err != nil {
		return fail("%v", err)
	}
	if len(changes) > 0 {
		var what []string
		for _, c := range changes {
			what = append(what, c.String())
		}
		fmt.Fprintf(stderr, "secrun record: recording under the node policy (%s): %s\n", pol.Source, strings.Join(what, "; "))
	}
	var base *specs.LinuxSeccomp
	if cfg.Spec.Linux != nil {
		base = cfg.Spec.Linux.Seccomp
	}
	rec, err := RecordingProfile(base)
	if err != nil {
		return fail("%s: %v", cfg.Path, err)
	}

	tmp, err := privateDir()
	if err != nil {
		return fail("%v", err)
	}
	defer os.RemoveAll(tmp)
	sock := filepath.Join(tmp, "l.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		return fail("listening on %s: %v", sock, err)
	}
	defer l.Close()
	token := randomToken()
	rec.ListenerPath, rec.ListenerMetadata = sock, token
	recBundle := filepath.Join(tmp, "bundle")
	if err := os.Mkdir(recBundle, 0o700); err != nil {
		return fail("%v", err)
	}
	if err := writeRecordingBundle(*bundle, orig, rec, recBundle); err != nil {
		return fail("writing the recording bundle: %v", err)
	}

	r := NewRecorder()
	r.Metadata = token
	r.Logf = func(format string, a ...any) { fmt.Fprintf(stderr, "secrun record: "+format+"\n", a...) }
	go r.Serve(l)

	var argv []string
	if *root != "" {
		argv = append(argv, "--root", *root)
	}
	argv = append(argv, "run", "--bundle", recBundle, id)
	cmd := exec.Command(rt, argv...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	// SIGINT and SIGQUIT from a terminal reach the runtime too (same
	// process group), which passes them on: they are caught here, so that
	// the recorder outlives the container, but not forwarded. The others
	// were sent to us alone: forwarded. (Caught, not ignored: an ignored
	// signal would stay ignored in the runtime.)
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGINT, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return fail("starting %s: %v", rt, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var runErr error
loop:
	for {
		select {
		case s := <-sigs:
			if s != syscall.SIGINT && s != syscall.SIGQUIT {
				cmd.Process.Signal(s)
			}
		case runErr = <-exited:
			break loop
		}
	}
	status := exitStatus(runErr)

	r.waitEnd(*wait)
	l.Close()
	r.Close()
	snap := r.Snapshot()
	switch {
	case snap.Filters == 0:
		if runErr != nil {
			return fail("%s did not start container %s (%v); nothing recorded", rt, id, runErr)
		}
		return fail("%s ran container %s without connecting to the listener: no notification fd, nothing recorded (does this runtime support linux.seccomp.listenerPath? runc 1.1 or later and crun do)", rt, id)
	case snap.Active > 0:
		snap.Problems = append(snap.Problems, fmt.Sprintf("processes under the recording filter were still running %s after %s exited (does the container share the host's PID namespace?): their later calls are not recorded", *wait, filepath.Base(rt)))
	}
	res := Build(rec, sortedKeys(snap.Calls))
	data, err := Encode(res.Profile, *format, *name)
	if err != nil {
		return fail("%v", err)
	}
	fmt.Fprintf(stderr, "secrun record: container %s exited with status %d; %s\n", id, status, snap.summary())
	if status != 0 {
		fmt.Fprintf(stderr, "secrun record: note: the container did not exit 0: the profile covers what this run did, check that it did the work it should\n")
	}
	if *verbose {
		for _, n := range sortedKeys(snap.Calls) {
			fmt.Fprintf(stderr, "  %-24s %d\n", n, snap.Calls[n])
		}
	}
	if len(snap.Problems) > 0 {
		for _, p := range snap.Problems {
			fmt.Fprintf(stderr, "secrun record: incomplete: %s\n", p)
		}
		partial := *output + ".partial"
		if err := atomicfile.Write(partial, data, 0o644); err != nil {
			return fail("%v", err)
		}
		return fail("the recording may have missed calls: no profile written to %s (what was recorded is in %s, for inspection only)", *output, partial)
	}
	if err := atomicfile.Write(*output, data, 0o644); err != nil {
		return fail("%v", err)
	}
	fmt.Fprintf(stderr, "secrun record: wrote %s: %d syscalls allowed (%d recorded, %d added for the runtime: %s)\n",
		*output, res.Allowed, len(res.Recorded), len(res.Runtime), strings.Join(res.Runtime, " "))
	return 0
}

// exitStatus is the runtime's exit status (which `runc run` makes the
// container's), 128+N for a signal.
func exitStatus(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// findRuntime resolves --runtime, $SECRUN_RUNTIME, the node config's
// runtime (a name in PATH or a path; a list tried in turn), or runc,
// skipping this very binary.
func findRuntime(flagValue string) (string, error) {
	candidates := []string(config.RuntimeOnly(config.Path()))
	if v := os.Getenv("SECRUN_RUNTIME"); v != "" {
		candidates = []string{v}
	}
	if flagValue != "" {
		candidates = []string{flagValue}
	}
	self, selfErr := os.Stat("/proc/self/exe")
	for _, c := range candidates {
		p := c
		if !strings.Contains(c, "/") {
			lp, err := exec.LookPath(c)
			if err != nil {
				continue
			}
			p = lp
		}
		fi, err := os.Stat(p)
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			continue
		}
		if selfErr == nil && os.SameFile(fi, self) {
			continue
		}
		return p, nil
	}
	return "", fmt.Errorf("no runtime found (tried %s; give --runtime PATH)", strings.Join(candidates, ", "))
}

// checkWritable fails early, before the container runs, when the output
// cannot be written: a temp file in its directory is what the write needs.
func checkWritable(path string) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".check-*")
	if err != nil {
		return fmt.Errorf("cannot write the profile to %s: %w", path, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// privateDir makes a 0700 directory for the socket and the recording
// bundle, with a path short enough for a unix socket (108 bytes).
func privateDir() (string, error) {
	for _, parent := range []string{os.TempDir(), "/tmp"} {
		d, err := os.MkdirTemp(parent, "secrun-record-")
		if err != nil {
			continue
		}
		if len(filepath.Join(d, "l.sock")) < 100 {
			return d, nil
		}
		os.RemoveAll(d)
	}
	return "", errors.New("cannot make a private directory for the listener socket (TMPDIR unwritable or too long?)")
}
