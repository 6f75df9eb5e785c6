package tool

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func fromStrace(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("from-strace", stderr)
	format := fs.String("format", "oci", "output format: oci (runtime-spec LinuxSeccomp JSON) or spo (Security Profiles Operator SeccompProfile YAML)")
	name := fs.String("name", "", "metadata.name of the SeccompProfile with --format spo (default: the output file's name)")
	output := fs.String("output", "", "write the profile to `FILE` (atomically) instead of stdout")
	allowUnknown := fs.Bool("allow-unknown", false, "leave out names libseccomp does not know instead of failing")
	files, err := ParseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	} else if err != nil {
		return 2
	}
	if len(files) == 0 {
		return usageError(stderr, "from-strace", "no strace output given (strace -f -o FILE CMD, then give FILE; - reads stdin)")
	}
	if *format != "oci" && *format != "spo" {
		return usageError(stderr, "from-strace", "--format %q: use oci or spo", *format)
	}
	spoName := *name
	if spoName == "" {
		spoName = NameFromPath(*output)
	} else if !ValidK8sName(spoName) {
		return usageError(stderr, "from-strace", "--name %q is not a Kubernetes object name (lower-case letters, digits, '-' and '.')", spoName)
	}

	trace := NewTrace()
	for _, f := range files {
		if err := parseStraceFile(trace, f); err != nil {
			fmt.Fprintf(stderr, "secrun profile from-strace: %v\n", err)
			return 1
		}
	}
	if len(trace.Calls) == 0 {
		fmt.Fprintf(stderr, "secrun profile from-strace: no syscalls in %s (%d lines); expected strace output, e.g. from strace -f -o FILE CMD\n", strings.Join(files, ", "), trace.Lines)
		return 1
	}

	p, rep := profileFromTrace(trace)
	for _, n := range rep.Unknown {
		why := "libseccomp " + libseccompVersion() + " has no such name"
		if strings.HasPrefix(n, "syscall_") {
			why = "strace could not name this syscall number and neither can libseccomp " + libseccompVersion() + " (upgrade libseccomp and strace, or check the trace is of this architecture)"
		}
		fmt.Fprintf(stderr, "secrun profile from-strace: unknown syscall %q (%d calls): %s; left out of the profile\n", n, trace.Calls[n], why)
	}
	for _, n := range rep.Newer {
		fmt.Fprintf(stderr, "secrun profile from-strace: warning: %q is newer than libseccomp %s on this host: kept, but runc and crun here skip it until libseccomp is upgraded\n",
			n, libseccompVersion())
	}
	for _, k := range sortedKeys(trace.Numbers) {
		if real := trace.Numbers[k]; real != "" {
			fmt.Fprintf(stderr, "secrun profile from-strace: note: strace printed %s; libseccomp names it %s\n", k, real)
		}
	}
	if trace.UnparsedCount > 0 {
		fmt.Fprintf(stderr, "secrun profile from-strace: warning: %d lines are not strace output and were skipped, e.g.\n", trace.UnparsedCount)
		for _, l := range trace.Unparsed {
			fmt.Fprintf(stderr, "  %s\n", l)
		}
	}
	fmt.Fprintf(stderr, "secrun profile from-strace: %d lines in %d files: %d syscalls traced, %d added for the runtime, %d allowed; %s\n",
		trace.Lines, len(files), rep.Traced, rep.Base, rep.Allowed, describe(p))
	if len(rep.Unknown) > 0 && !*allowUnknown {
		fmt.Fprintf(stderr, "secrun profile from-strace: %d unknown syscall names: no profile written (check the input is strace output of this architecture, or pass --allow-unknown to write the profile without them)\n", len(rep.Unknown))
		return 1
	}

	var data []byte
	if *format == "spo" {
		if data, err = ToSPO(p, spoName); err != nil {
			fmt.Fprintf(stderr, "secrun profile from-strace: %v\n", err)
			return 1
		}
	} else {
		data = marshalProfile(p)
	}
	if err := writeOutput(*output, data, stdout); err != nil {
		fmt.Fprintf(stderr, "secrun profile from-strace: %v\n", err)
		return 1
	}
	return 0
}

func parseStraceFile(t *Trace, path string) error {
	if path == "-" {
		return t.Parse(os.Stdin, "stdin")
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, unwrapPathError(err))
	}
	defer f.Close()
	return t.Parse(f, path)
}

// traceReport says where the names of a recorded profile came from.
type traceReport struct {
	Traced, Base, Allowed int
	Unknown, Newer        []string // not known to libseccomp: left out / kept
}

// profileFromTrace builds the allowlist: every traced name libseccomp knows
// (or Docker's profile lists), plus RuntimeBase, in one ALLOW rule; then
// the thread-creation rules runc init may need.
func profileFromTrace(t *Trace) (*specs.LinuxSeccomp, traceReport) {
	var rep traceReport
	allowed := map[string]bool{}
	for n := range t.Calls {
		switch {
		case knownName(n):
			allowed[n] = true
		case dockerNames()[n]:
			allowed[n] = true
			rep.Newer = append(rep.Newer, n)
		default:
			rep.Unknown = append(rep.Unknown, n)
		}
	}
	rep.Traced = len(allowed)
	for _, n := range runtimeBaseNames() {
		if !allowed[n] {
			allowed[n] = true
			rep.Base++
		}
	}
	rep.Allowed = len(allowed)
	slices.Sort(rep.Unknown)
	slices.Sort(rep.Newer)

	eperm := uint(ePERM)
	arches, err := HostArches()
	if err != nil {
		arches = nil // native only; the filter still works on this host
	}
	p := &specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: &eperm,
		Architectures:   arches,
		Syscalls:        []specs.LinuxSyscall{{Names: sortedKeys(allowed), Action: specs.ActAllow}},
	}
	p.Syscalls = append(p.Syscalls, runtimeThreadRules(allowed)...)
	return p, rep
}

// NameFromPath derives a Kubernetes object name from an output file name.
func NameFromPath(path string) string {
	base := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	var b strings.Builder
	for _, r := range strings.ToLower(base) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	n := strings.Trim(b.String(), "-.")
	if path == "" || path == "-" || !ValidK8sName(n) {
		return "secrun-recorded"
	}
	return n
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
