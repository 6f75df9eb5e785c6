// Package shim is secrun's runc-compatible front: it parses runc's command
// line, applies the policy where a container or process is created, and
// execs the real runtime with the caller's argv unchanged.
package shim

import (
	"fmt"
	"os"
	"path/filepath"
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
}

// Global flags that take a value, runc's and crun's. Every other global flag
// is a boolean unless written --flag=value.
var globalValueFlags = map[string]bool{
	"root": true, "log": true, "log-format": true, "criu": true, "rootless": true,
	"log-level": true, "cgroup-manager": true,
}

// subcommands known to runc, crun and secrun: an unknown global flag followed
// by one of these is taken to be a boolean.
var subcommands = map[string]bool{
	"checkpoint": true, "create": true, "delete": true, "events": true, "exec": true,
	"features": true, "help": true, "h": true, "kill": true, "list": true, "ps": true,
	"pause": true, "restore": true, "resume": true, "run": true, "spec": true,
	"start": true, "state": true, "update": true, "mounts": true,
	"explain": true, "check": true, "setup": true, "profile": true, "apparmor": true, "monitor": true, "findings": true, "record": true, "record-agent": true,
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
		if globalValueFlags[name] {
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
			if !inline && i < len(argv) && !subcommands[argv[i]] && !strings.HasPrefix(argv[i], "-") {
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

// CmdArgs is what the policy needs from a subcommand's own flags.
type CmdArgs struct {
	Bundle  string // absolute
	Config  string // absolute path of the spec file (crun's --config)
	Process string // exec --process, absolute
	Caps    []string
	// AppArmor is exec --apparmor; LSM is restore --lsm-profile.
	AppArmor, LSM string
	ID            string
}

// Flags of create, run, restore and exec that take a value.
var cmdValueFlags = map[string]bool{
	"bundle": true, "b": true, "console-socket": true, "pid-file": true, "preserve-fds": true,
	"pidfd-socket": true, "config": true, "f": true,
	// restore
	"image-path": true, "work-path": true, "parent-path": true, "manage-cgroups-mode": true,
	"lsm-profile": true, "lsm-mount-context": true, "empty-ns": true, "status-fd": true,
	"page-server": true, "ext-unix-sk-pair": true, "inherit-fd": true,
	// exec
	"cwd": true, "env": true, "e": true, "user": true, "u": true, "additional-gids": true,
	"g": true, "process": true, "p": true, "apparmor": true, "process-label": true,
	"cap": true, "c": true, "cgroup": true,
}

// ParseCmd reads the flags of create/run/restore/exec. cwd resolves relative
// paths as the runtime would (secrun never changes directory).
func ParseCmd(command string, args []string, cwd string) (*CmdArgs, error) {
	c := &CmdArgs{Bundle: cwd}
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return filepath.Clean(p)
		}
		return filepath.Join(cwd, p)
	}
	// runc (urfave/cli) and crun (argp) accept flags after the container ID
	// for create/run/restore; for exec everything after the ID is the command.
	permute := command != "exec"
	for i := 0; i < len(args); i++ {
		tok := args[i]
		if tok == "--" {
			if c.ID == "" && i+1 < len(args) {
				c.ID = args[i+1]
			}
			break
		}
		name, value, inline, ok := splitFlag(tok)
		if !ok {
			if c.ID == "" {
				c.ID = tok
			}
			if !permute {
				break
			}
			continue
		}
		if !cmdValueFlags[name] {
			continue
		}
		if !inline {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("%s: flag %s needs a value", command, tok)
			}
			i++
			value = args[i]
		}
		switch name {
		case "bundle", "b":
			c.Bundle = abs(value)
		case "config", "f":
			c.Config = value
		case "process", "p":
			c.Process = abs(value)
		case "cap", "c":
			c.Caps = append(c.Caps, value)
		case "apparmor":
			c.AppArmor = value
		case "lsm-profile":
			c.LSM = value
		}
	}
	if c.Config == "" {
		c.Config = filepath.Join(c.Bundle, "config.json")
	} else if !filepath.IsAbs(c.Config) {
		// crun changes into the bundle before it reads --config.
		c.Config = filepath.Join(c.Bundle, c.Config)
	}
	return c, nil
}

func getwd() string {
	wd, err := os.Getwd()
	if err != nil {
		return "."
	}
	return wd
}
