// Package tool implements `secrun profile ...`: recording a seccomp profile
// from strace output, and validating, comparing, merging and showing
// profiles. Syscall names are resolved, and profiles compiled to BPF, with
// the host's libseccomp.
package tool

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/secrun/secrun/internal/atomicfile"
	"github.com/secrun/secrun/profiles"
)

// Usage is printed by `secrun profile help`.
const Usage = `usage: secrun profile COMMAND [flags] ARGS

Commands:
  from-strace [--format oci|spo] [--name N] [--output FILE] [--allow-unknown] FILE...
        Build an allowlist profile from strace output (plain, -f, -ff files,
        -tt/-ttt/-r/-T, -c summary tables; "-" reads stdin), plus the syscalls
        runc and crun make after loading the filter. Unknown names are reported
        and fail the command unless --allow-unknown.
  validate [--caps LIST] [--allow-unknown] FILE...
        Check OCI, Docker-format, config.json or SPO profiles: every name
        resolved by libseccomp for every architecture, duplicate and
        conflicting rules, and the filter compiled to BPF.
  diff [--caps LIST] A B
        What each profile allows that the other does not; A or B may be a
        built-in level by name (runtime-default): a profile that allows what
        it denies is flagged LOOSER.
  merge [--caps LIST] [--output FILE] A B...
        Union of what allowlist profiles allow (e.g. recordings of replicas).
  show [--caps LIST] [--profiles-dir DIR] NAME
        Print a built-in level (runtime-default, restricted), DIR/NAME.json or
        an absolute path as resolved OCI JSON; counts go to stderr.

--caps is a comma-separated capability list: the bounding set Docker-format
includes/excludes are resolved for (default: the 14 stock capabilities; for
show NAME, the level's allowlist). Exit status: 0 ok, 1 errors, 2 bad usage.
`

// Main runs `secrun profile` with the words after it and returns the exit
// status.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, Usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "from-strace":
		return fromStrace(rest, stdout, stderr)
	case "validate":
		return validate(rest, stdout, stderr)
	case "diff":
		return diff(rest, stdout, stderr)
	case "merge":
		return merge(rest, stdout, stderr)
	case "show":
		return show(rest, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, Usage)
		return 0
	}
	fmt.Fprintf(stderr, "secrun profile: unknown command %q (commands: from-strace, validate, diff, merge, show; see secrun profile help)\n", cmd)
	return 2
}

// newFlags returns a flag set for one command that reports to stderr.
func newFlags(cmd string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("secrun profile "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: secrun profile %s\n", usageLine(cmd))
		fs.PrintDefaults()
	}
	return fs
}

func usageLine(cmd string) string {
	for _, l := range strings.Split(Usage, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == cmd {
			return strings.TrimSpace(l)
		}
	}
	return cmd
}

// ParseInterleaved parses flags that may come before, between or after the positional
// arguments (`merge A B --output F`); "--" ends the flags.
func ParseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// capsFlag is --caps: a comma-separated capability list.
type capsFlag struct {
	caps []string
	set  bool
}

func (c *capsFlag) String() string { return strings.Join(c.caps, ",") }

func (c *capsFlag) Set(v string) error {
	c.caps, c.set = nil, true
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
		n, err := profiles.CanonicalCap(f)
		if err != nil {
			return fmt.Errorf("%v (capability names like CAP_CHOWN or chown)", err)
		}
		c.caps = append(c.caps, n)
	}
	return nil
}

// or returns the list given, or def when --caps was not given.
func (c *capsFlag) or(def []string) []string {
	if c.set {
		return c.caps
	}
	return def
}

// usageError reports bad usage and returns 2.
func usageError(stderr io.Writer, cmd, format string, a ...any) int {
	fmt.Fprintf(stderr, "secrun profile %s: %s\nusage: secrun profile %s\n", cmd, fmt.Sprintf(format, a...), usageLine(cmd))
	return 2
}

// marshalProfile is the JSON every command writes: indented, newline-ended.
func marshalProfile(p *specs.LinuxSeccomp) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		panic(err) // LinuxSeccomp always encodes
	}
	return b.Bytes()
}

// writeOutput writes data to path atomically, or to stdout when path is
// empty or "-".
func writeOutput(path string, data []byte, stdout io.Writer) error {
	if path == "" || path == "-" {
		_, err := stdout.Write(data)
		return err
	}
	if err := atomicfile.Write(path, data, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// wrapNames formats names on indented lines of at most ~100 columns.
func wrapNames(w io.Writer, names []string) {
	line := " "
	for _, n := range names {
		if len(line)+1+len(n) > 100 {
			fmt.Fprintln(w, line)
			line = " "
		}
		line += " " + n
	}
	if line != " " {
		fmt.Fprintln(w, line)
	}
}

// describe is the one-line summary of a profile used by every command.
func describe(p *specs.LinuxSeccomp) string {
	c := countProfile(p)
	def := string(p.DefaultAction)
	if p.DefaultAction == specs.ActErrno || p.DefaultAction == specs.ActTrace {
		def += fmt.Sprintf(" (errno %d)", errnoOf(p.DefaultErrnoRet))
	}
	arches := "native only"
	if len(p.Architectures) > 0 {
		var a []string
		for _, x := range p.Architectures {
			a = append(a, string(x))
		}
		arches = strings.Join(a, " ")
	}
	return fmt.Sprintf("%d rules, %d names (%d unique), %d allowed outright, %d conditionally; default %s; architectures %s",
		c.Rules, c.Names, c.Unique, c.Allowed, c.Conditional, def, arches)
}
