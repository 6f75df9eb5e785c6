package shim

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
)

// One reading of the command line. secrun must confine the bundle, process
// file and capabilities the runtime will use, so it reads argv by the rules
// of the runtime it execs (see goflag.go, getopt.go and options.go), per
// version where they differ. When the runtime or its version is not one
// secrun knows, the line is read by every set of rules secrun knows and
// accepted only if all read it alike. Anything else is refused.

// dialect is one set of rules for reading a command line.
type dialect struct {
	name string
	crun bool
	// runc: how urfave/cli moves flags in front of arguments.
	reorder reorder
	// crun < 1.22: --rootless is an alias of --root.
	rootlessIsRoot bool
}

var (
	runc11     = dialect{name: "runc 1.0-1.1", reorder: reorderDashes}
	runc12     = dialect{name: "runc 1.2-1.5", reorder: reorderKnown}
	crunBefore = dialect{name: "crun 1.0-1.21", crun: true, rootlessIsRoot: true}
	crunAfter  = dialect{name: "crun 1.22-1.29", crun: true}
)

func (d dialect) global() []option {
	if d.crun {
		return crunGlobal(d.rootlessIsRoot)
	}
	return runcGlobal
}

func (d dialect) command(cmd string) []option {
	if d.crun {
		return append(crunCommand(cmd), argpDefaults...)
	}
	return runcCommand(cmd)
}

// options reads a list of words by the dialect's rules and returns the
// settings and the words after the options.
func (d dialect) options(table []option, args []string, re reorder) ([]setting, []string, error) {
	if d.crun {
		sets, n, err := getoptLong(d.name, table, args)
		if err != nil {
			return nil, nil, err
		}
		return sets, args[n:], nil
	}
	return goFlags(d.name, table, re.apply(table, args))
}

// confining reports whether the runtime creates a container or a process
// for the subcommand: secrun applies the policy to these only.
func confining(cmd string) bool {
	return cmd == "create" || cmd == "run" || cmd == "restore" || cmd == "exec"
}

// reading is what one dialect reads in argv.
type reading struct {
	Command  string
	CmdIndex int // argv index of the subcommand
	Root     string
	RootSet  bool
	Cmd      rawCmd
}

// rawCmd holds the values secrun reads, as written (paths unresolved).
type rawCmd struct {
	Bundle, Config, Process string
	BundleSet, ConfigSet    bool
	Caps                    []string
	AppArmor, LSM, ID       string
	User                    string
	NoNewPrivs              *bool
	Positional              int
}

// How much of a line to read.
type depth uint8

const (
	globalOnly depth = iota // up to the subcommand
	noArity                 // also its options, whatever follows them
	full                    // and refuse what the runtime refuses there
)

func (d dialect) read(argv []string, how depth) (*reading, error) {
	r := &reading{}
	sets, rest, err := d.options(d.global(), argv[1:], reorderNone)
	if err != nil {
		return nil, err
	}
	noCgroups := false
	for _, s := range sets {
		if s.opt.key == keyRoot {
			r.Root, r.RootSet = s.value, true
		}
		// crun's --cgroup-manager=disabled runs the container without a
		// device cgroup: every host device node it can make is open to it.
		if s.opt.key == "cgroup-manager" && s.value == "disabled" {
			noCgroups = true
		}
	}
	if len(rest) == 0 {
		return r, nil
	}
	r.Command, r.CmdIndex = rest[0], len(argv)-len(rest)
	if noCgroups && confining(r.Command) {
		return nil, fmt.Errorf("--cgroup-manager=disabled is refused by secrun's policy: without cgroups the container has no device cgroup (use cgroupfs or systemd)")
	}
	if !confining(r.Command) || how == globalOnly {
		return r, nil
	}
	re := d.reorder
	if r.Command == "exec" {
		re = reorderNone
	}
	sets, rest, err = d.options(d.command(r.Command), rest[1:], re)
	if err != nil {
		return nil, err
	}
	c := &r.Cmd
	for _, s := range sets {
		switch s.opt.key {
		case keyBundle:
			c.Bundle, c.BundleSet = s.value, true
		case keyConfig:
			c.Config, c.ConfigSet = s.value, true
		case keyProcess:
			c.Process = s.value
		case keyCap:
			c.Caps = append(c.Caps, s.value)
		case keyAA:
			c.AppArmor = s.value
		case keyLSM:
			c.LSM = s.value
		case keyUser:
			c.User = s.value
		case keyNNP:
			v := true
			if s.hasValue {
				v, _ = strconv.ParseBool(s.value)
			}
			c.NoNewPrivs = &v
		}
	}
	if len(rest) > 0 {
		c.ID = rest[0]
	}
	c.Positional = len(rest)
	if how == noArity {
		return r, nil
	}
	return r, d.checkArity(r.Command, c, rest)
}

// checkArity refuses what the runtime refuses for its arguments, so a line
// the runtime would reject never makes secrun rewrite a file.
func (d dialect) checkArity(cmd string, c *rawCmd, rest []string) error {
	min, max := 1, 1
	switch {
	case cmd == "exec" && c.Process == "":
		min, max = 2, -1
	case cmd == "exec":
		max = -1
	case cmd == "restore" && d.crun:
		max = 2
	}
	if len(rest) < min {
		if min == 2 && len(rest) == 1 {
			return fmt.Errorf("%s exec needs a command after the container ID (or --process FILE)", d.name)
		}
		return fmt.Errorf("%s %s needs a container ID after its options", d.name, cmd)
	}
	if max >= 0 && len(rest) > max {
		return fmt.Errorf("%s reads %q as arguments of %s after the container ID %q (options go before the ID)", d.name, strings.Join(rest[1:], " "), cmd, rest[0])
	}
	return nil
}

// readAll reads argv by each dialect and returns the common reading, or an
// error naming the first dialect that refuses the line or reads it otherwise.
func readAll(ds []dialect, argv []string, how depth) (*reading, error) {
	var first *reading
	for i, d := range ds {
		r, err := d.read(argv, how)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			first = r
		} else if !reflect.DeepEqual(r, first) {
			return nil, fmt.Errorf("%s and %s read this command line differently (%s); write each option in full (--bundle DIR, --process FILE, --cap CAP), before the container ID", ds[0].name, d.name, differ(first, r))
		}
	}
	return first, nil
}

func differ(a, b *reading) string {
	switch {
	case a.Command != b.Command:
		return fmt.Sprintf("subcommand %q or %q", a.Command, b.Command)
	case a.Root != b.Root || a.RootSet != b.RootSet:
		return fmt.Sprintf("--root %q or %q", a.Root, b.Root)
	case a.Cmd.Bundle != b.Cmd.Bundle:
		return fmt.Sprintf("bundle %q or %q", a.Cmd.Bundle, b.Cmd.Bundle)
	case a.Cmd.Process != b.Cmd.Process:
		return fmt.Sprintf("process file %q or %q", a.Cmd.Process, b.Cmd.Process)
	case a.Cmd.ID != b.Cmd.ID:
		return fmt.Sprintf("container %q or %q", a.Cmd.ID, b.Cmd.ID)
	}
	return "options"
}

// cmdLine is a command line as the runtime reads it.
type cmdLine struct {
	// Runtime names the rules it was read by, for messages.
	Runtime string
	// Crun: the runtime is crun (exec's argument form differs).
	Crun    bool
	Command string
	// CmdIndex is the argv index of the subcommand.
	CmdIndex int
	Root     string
	RootSet  bool
	Args     *CmdArgs
}

// readLine reads argv as the runtime described by ds does; cwd resolves
// relative paths.
func readLine(ds []dialect, argv []string, cwd string, how depth) (*cmdLine, error) {
	r, err := readAll(ds, argv, how)
	if err != nil {
		return nil, err
	}
	l := &cmdLine{Runtime: ds[0].name, Crun: ds[0].crun, Command: r.Command, CmdIndex: r.CmdIndex, Root: r.Root, RootSet: r.RootSet}
	if len(ds) > 1 {
		l.Runtime = "a runtime secrun does not know"
		l.Crun = false
	}
	if !confining(r.Command) || how == globalOnly {
		return l, nil
	}
	l.Args, err = resolve(r.Cmd, cwd, ds[0].crun)
	return l, err
}

// resolve turns the paths into the absolute ones the runtime opens.
func resolve(c rawCmd, cwd string, crun bool) (*CmdArgs, error) {
	a := &CmdArgs{Caps: c.Caps, AppArmor: c.AppArmor, LSM: c.LSM, ID: c.ID, User: c.User, NoNewPrivs: c.NoNewPrivs}
	var err error
	a.Bundle = cwd
	if c.BundleSet {
		// runc treats an empty --bundle as none; crun fails on it.
		if c.Bundle == "" && crun {
			return nil, fmt.Errorf("--bundle is empty")
		}
		if c.Bundle != "" {
			if a.Bundle, err = resolvePath(cwd, c.Bundle); err != nil {
				return nil, fmt.Errorf("--bundle %s: %w", c.Bundle, err)
			}
		}
	}
	// crun reads --config relative to the directory it was started in,
	// except the literal default "config.json", which it reads in the bundle.
	if c.ConfigSet && c.Config != "config.json" {
		if a.Config, err = resolvePath(cwd, c.Config); err != nil {
			return nil, fmt.Errorf("--config %s: %w", c.Config, err)
		}
	} else {
		a.Config = filepath.Join(a.Bundle, "config.json")
	}
	if c.Process != "" {
		if a.Process, err = resolvePath(cwd, c.Process); err != nil {
			return nil, fmt.Errorf("--process %s: %w", c.Process, err)
		}
	}
	return a, nil
}

// resolvePath makes p absolute as the kernel would find it from cwd. A
// lexical clean is wrong where ".." follows a symbolic link (the kernel
// follows the link first), so the part up to the last ".." is resolved
// on disk; the rest is cleaned, which keeps a link in the last component
// visible to the bundle check.
func resolvePath(cwd, p string) (string, error) {
	if !filepath.IsAbs(p) {
		p = cwd + "/" + p
	}
	parts := strings.Split(p, "/")
	last := -1
	for i, s := range parts {
		if s == ".." {
			last = i
		}
	}
	if last < 0 {
		return filepath.Clean(p), nil
	}
	head, err := filepath.EvalSymlinks(strings.Join(parts[:last+1], "/"))
	if err != nil {
		return "", err
	}
	return filepath.Clean(head + "/" + strings.Join(parts[last+1:], "/")), nil
}
