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
	o, code := parseFlags(args, stderr)
	if o == nil {
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "secrun record: "+format+"\n", a...)
		return 1
	}
	if err := checkWritable(o.output); err != nil {
		return fail("%v", err)
	}
	rt, err := findRuntime(o.runtime)
	if err != nil {
		return fail("%v", err)
	}
	orig, rec, err := recordingSpec(o.bundle, stderr)
	if err != nil {
		return fail("%v", err)
	}
	snap, status, err := runRecorded(o, rt, orig, rec, stdout, stderr)
	if err != nil {
		return fail("%v", err)
	}
	return writeRecording(o, rec, snap, status, stderr)
}

// options are secrun record's flags.
type options struct {
	output, format, name, bundle, runtime, root, id string
	verbose                                         bool
	wait                                            time.Duration
}

// parseFlags returns the options, or nil and the exit status.
func parseFlags(args []string, stderr io.Writer) (*options, int) {
	o := &options{}
	fs := flag.NewFlagSet("secrun record", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, Usage); fs.PrintDefaults() }
	fs.StringVar(&o.output, "output", "", "write the profile to `FILE` (required)")
	fs.StringVar(&o.format, "format", "", "oci (runtime-spec LinuxSeccomp JSON) or spo (SeccompProfile YAML); default: spo for .yaml/.yml, else oci")
	fs.StringVar(&o.name, "name", "", "metadata.name of the SeccompProfile (default: from the output file name)")
	fs.StringVar(&o.bundle, "bundle", ".", "bundle `DIR`ectory")
	fs.StringVar(&o.bundle, "b", ".", "short for --bundle")
	fs.StringVar(&o.runtime, "runtime", "", "runtime to run (default: $SECRUN_RUNTIME, else the node config's runtime, else runc)")
	fs.StringVar(&o.root, "root", "", "--root passed to the runtime")
	fs.BoolVar(&o.verbose, "v", false, "list the syscalls recorded, with their counts, on stderr")
	fs.DurationVar(&o.wait, "wait", 10*time.Second, "after the runtime exits, how long processes left under the filter may take to exit")
	pos, err := tool.ParseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil, 0
	} else if err != nil {
		return nil, 2
	}
	usage := func(format string, a ...any) (*options, int) {
		fmt.Fprintf(stderr, "secrun record: "+format+"\n", a...)
		fmt.Fprint(stderr, Usage)
		return nil, 2
	}
	if len(pos) != 1 {
		return usage("give exactly one container ID (got %d arguments: %s)", len(pos), strings.Join(pos, " "))
	}
	o.id = pos[0]
	if o.output == "" {
		return usage("--output FILE is required")
	}
	if o.format == "" {
		o.format = FormatFor(o.output)
	}
	if o.format != FormatOCI && o.format != FormatSPO {
		return usage("--format %q: use oci or spo", o.format)
	}
	if o.name == "" {
		o.name = tool.NameFromPath(o.output)
	} else if !tool.ValidK8sName(o.name) {
		return usage("--name %q is not a Kubernetes object name (lower-case letters, digits, '-' and '.')", o.name)
	}
	return o, 0
}

// recordingSpec returns the bundle's spec under the node policy, encoded,
// and the recording profile to run it with. Recording under the policy, as
// secrun create would run the container: the capabilities it keeps and
// no-new-privileges change what the workload calls, and its seccomp
// profile bounds the recording.
func recordingSpec(bundle string, stderr io.Writer) ([]byte, *specs.LinuxSeccomp, error) {
	cfg, err := spec.LoadConfig(bundle, "")
	if err != nil {
		return nil, nil, err
	}
	node, err := config.Load(config.Path())
	if err != nil {
		return nil, nil, err
	}
	pol, _, err := node.PolicyFor(nil, cfg.Spec.Annotations)
	if err != nil {
		return nil, nil, err
	}
	changes, err := pol.ApplyRecording(cfg.Spec)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: refused by the node policy (%s): %v", cfg.Path, pol.Source, err)
	}
	orig, err := cfg.Encode()
	if err != nil {
		return nil, nil, err
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
		return nil, nil, fmt.Errorf("%s: %v", cfg.Path, err)
	}
	return orig, rec, nil
}

// runRecorded runs the container with rec, its listener served by a
// Recorder, and returns what the Recorder saw and the runtime's status.
func runRecorded(o *options, rt string, orig []byte, rec *specs.LinuxSeccomp, stdout, stderr io.Writer) (*Snapshot, int, error) {
	tmp, err := privateDir()
	if err != nil {
		return nil, 0, err
	}
	defer os.RemoveAll(tmp)
	sock := filepath.Join(tmp, "l.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		return nil, 0, fmt.Errorf("listening on %s: %v", sock, err)
	}
	defer l.Close()
	token := randomToken()
	rec.ListenerPath, rec.ListenerMetadata = sock, token
	recBundle := filepath.Join(tmp, "bundle")
	if err := os.Mkdir(recBundle, 0o700); err != nil {
		return nil, 0, err
	}
	if err := writeRecordingBundle(o.bundle, orig, rec, recBundle); err != nil {
		return nil, 0, fmt.Errorf("writing the recording bundle: %v", err)
	}

	r := NewRecorder()
	r.Metadata = token
	r.Logf = func(format string, a ...any) { fmt.Fprintf(stderr, "secrun record: "+format+"\n", a...) }
	go r.Serve(l)

	var argv []string
	if o.root != "" {
		argv = append(argv, "--root", o.root)
	}
	argv = append(argv, "run", "--bundle", recBundle, o.id)
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
		return nil, 0, fmt.Errorf("starting %s: %v", rt, err)
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

	r.waitEnd(o.wait)
	l.Close()
	r.Close()
	snap := r.Snapshot()
	switch {
	case snap.Filters == 0:
		if runErr != nil {
			return nil, 0, fmt.Errorf("%s did not start container %s (%v); nothing recorded", rt, o.id, runErr)
		}
		return nil, 0, fmt.Errorf("%s ran container %s without connecting to the listener: no notification fd, nothing recorded (does this runtime support linux.seccomp.listenerPath? runc 1.1 or later and crun do)", rt, o.id)
	case snap.Active > 0:
		snap.Problems = append(snap.Problems, fmt.Sprintf("processes under the recording filter were still running %s after %s exited (does the container share the host's PID namespace?): their later calls are not recorded", o.wait, filepath.Base(rt)))
	}
	return &snap, status, nil
}

// writeRecording builds the profile from what was recorded and writes it,
// or, when the recording may be incomplete, writes it beside the output
// for inspection and fails.
func writeRecording(o *options, rec *specs.LinuxSeccomp, snap *Snapshot, status int, stderr io.Writer) int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "secrun record: "+format+"\n", a...)
		return 1
	}
	res := Build(rec, sortedKeys(snap.Calls))
	data, err := Encode(res.Profile, o.format, o.name)
	if err != nil {
		return fail("%v", err)
	}
	fmt.Fprintf(stderr, "secrun record: container %s exited with status %d; %s\n", o.id, status, snap.summary())
	if status != 0 {
		fmt.Fprintf(stderr, "secrun record: note: the container did not exit 0: the profile covers what this run did, check that it did the work it should\n")
	}
	if o.verbose {
		for _, n := range sortedKeys(snap.Calls) {
			fmt.Fprintf(stderr, "  %-24s %d\n", n, snap.Calls[n])
		}
	}
	if len(snap.Problems) > 0 {
		for _, p := range snap.Problems {
			fmt.Fprintf(stderr, "secrun record: incomplete: %s\n", p)
		}
		partial := o.output + ".partial"
		if err := atomicfile.Write(partial, data, 0o644); err != nil {
			return fail("%v", err)
		}
		return fail("the recording may have missed calls: no profile written to %s (what was recorded is in %s, for inspection only)", o.output, partial)
	}
	if err := atomicfile.Write(o.output, data, 0o644); err != nil {
		return fail("%v", err)
	}
	fmt.Fprintf(stderr, "secrun record: wrote %s: %d syscalls allowed (%d recorded, %d added for the runtime: %s)\n",
		o.output, res.Allowed, len(res.Recorded), len(res.Runtime), strings.Join(res.Runtime, " "))
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
