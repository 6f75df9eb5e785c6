// Package shim is secrun's runc-compatible front: it parses runc's command
// line, applies the policy where a container or process is created, and
// execs the real runtime with the caller's argv unchanged.
package shim

import (
	"fmt"
	"os"
	"slices"
	"strings"
)

// Globals are the runtime-wide flags secrun itself cares about.
type Globals struct {
	Root, Log, LogFormat string
	Debug                bool
	Version, Help        bool
}

// Invocation is a parsed command line. Argv is kept as given.
type Invocation struct {
	Argv    []string
	Globals Globals
	// Command is the subcommand ("" when none); Args follow it.
	Command string
	Args    []string

	// facts is where this call keeps what it learns of runtime binaries
	// (MainWith: the node's cache; the zero value keeps nothing).
	facts runtimeFacts
}

// takesValue: the global flags that take a value, runc's and crun's. Every
// other global flag is a boolean unless written --flag=value. (Switches,
// not maps: a map is built at start-up on every call of the wrapper.)
func takesValue(flag string) bool {
	switch flag {
	case "root", "log", "log-format", "criu", "rootless", "log-level", "cgroup-manager":
		return true
	}
	return false
}

// isSubcommand: the subcommands known to runc, crun and secrun. An unknown
// global flag followed by one of these is taken to be a boolean.
func isSubcommand(word string) bool {
	switch word {
	case "checkpoint", "create", "delete", "events", "exec", "features", "help", "h", "kill", "list", "ps",
		"pause", "restore", "resume", "run", "spec", "start", "state", "update", "mounts",
		"explain", "check", "setup", "profile", "apparmor", "monitor", "findings", "record", "record-agent":
		return true
	}
	return false
}

// splitFlag returns the name of a flag token ("-x", "--x", "--x=v") and its
// inline value. ok is false for a token that is not a flag.
func splitFlag(tok string) (name, value string, inline, ok bool) {
	if len(tok) < 2 || tok[0] != '-' || tok == "--" {
		return "", "", false, false
	}
	name = strings.TrimPrefix(strings.TrimPrefix(tok, "-"), "-")
	name, value, inline = strings.Cut(name, "=")
	return name, value, inline, name != ""
}

// Parse reads runc's global flags up to the subcommand. It never fails: a
// command line it cannot make sense of is left for the runtime to reject.
func Parse(argv []string) *Invocation {
	inv := &Invocation{Argv: argv}
	g := &inv.Globals
	i := 1
	for i < len(argv) {
		tok := argv[i]
		if tok == "--" {
			i++
			break
		}
		name, value, inline, ok := splitFlag(tok)
		if !ok {
			break
		}
		i++
		if takesValue(name) {
			if !inline {
				if i >= len(argv) {
					break
				}
				value = argv[i]
				i++
			}
			switch name {
			case "root":
				g.Root = value
			case "log":
				g.Log = value
			case "log-format":
				g.LogFormat = value
			}
			continue
		}
		switch name {
		case "debug":
			g.Debug = !inline || value != "false"
		case "version", "v":
			g.Version = true
		case "help", "h":
			g.Help = true
		case "systemd-cgroup", "rootless-cgroups":
		default:
			// Unknown flag: a boolean if inline or followed by a flag or a
			// known subcommand; otherwise assume it took the next token.
			if !inline && i < len(argv) && !isSubcommand(argv[i]) && !strings.HasPrefix(argv[i], "-") {
				i++
			}
		}
	}
	if i < len(argv) {
		inv.Command = argv[i]
		inv.Args = argv[i+1:]
	}
	return inv
}

// CmdArgs is what the policy needs from a subcommand's own options, as the
// runtime reads them (see cmdline.go).
type CmdArgs struct {
	Bundle  string // absolute
	Config  string // absolute path of the spec file (crun's --config)
	Process string // exec --process, absolute
	Caps    []string
	// AppArmor is exec --apparmor; LSM is restore --lsm-profile.
	AppArmor, LSM string
	ID            string
	// User is exec --user UID[:GID] when given.
	User string
	// NoNewPrivs is exec --no-new-privs[=BOOL] when given.
	NoNewPrivs *bool
	// Runtime names the rules argv was read by; OptIndex is the argv index
	// right after the subcommand; InheritsNNP: exec's argument form keeps
	// the container's no_new_privs (runc), unless --no-new-privs=false.
	Runtime     string
	OptIndex    int
	InheritsNNP bool
}

// ParseCmd reads the options of create/run/restore/exec for a runtime
// secrun does not know (secrun explain's --bundle): only forms every
// runtime secrun knows reads alike are accepted. It does not ask for a
// container ID. cwd resolves relative paths.
func ParseCmd(command string, args []string, cwd string) (*CmdArgs, error) {
	argv := append([]string{"secrun", command}, args...)
	r, err := readAll(allDialects, argv, noArity)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", command, err)
	}
	return resolve(r.Cmd, cwd, true)
}

// parseFor reads inv's argv as the runtime at path does and returns the
// options of its subcommand. It refuses a line in which the runtime reads
// another subcommand than Parse did, and replaces inv's root and Args by
// the runtime's reading (exec looks the container up under that root).
func parseFor(runtime string, inv *Invocation, cwd string) (*CmdArgs, error) {
	ds := inv.facts.dialectsFor(runtime)
	l, err := readLine(ds, inv.Argv, cwd, full)
	if err != nil {
		return nil, fmt.Errorf("%s refused: %w", inv.Command, err)
	}
	if l.Command != inv.Command {
		return nil, fmt.Errorf("%s refused: %s reads the subcommand as %q; write the global options in full (--root DIR, --log FILE)", inv.Command, l.Runtime, l.Command)
	}
	inv.Globals.Root = l.Root
	inv.Args = inv.Argv[l.CmdIndex+1:]
	a := l.Args
	a.Runtime, a.OptIndex = l.Runtime, l.CmdIndex+1
	a.InheritsNNP = len(ds) == 1 && !ds[0].crun
	return a, nil
}

// checkPassthrough guards the commands secrun passes on untouched: if a
// word of argv is create, run, restore or exec, the line is read as the
// runtime reads it, and refused if that makes it one of these.
func checkPassthrough(runtime string, inv *Invocation) error {
	if !slices.ContainsFunc(inv.Argv[1:], confining) {
		return nil
	}
	l, err := readLine(inv.facts.dialectsFor(runtime), inv.Argv, "/", globalOnly)
	if err != nil {
		return fmt.Errorf("command line refused: %w", err)
	}
	if confining(l.Command) {
		return fmt.Errorf("%s refused: secrun read the subcommand as %q; write the global options in full (--root DIR, --log FILE)", l.Command, inv.Command)
	}
	return nil
}

func getwd() string {
	wd, err := os.Getwd()
	if err != nil {
		return "."
	}
	return wd
}
