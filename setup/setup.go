// Package setup implements `secrun setup containerd`: it registers secrun
// as a CRI runtime in containerd's config, and removes it again.
//
// What it writes, for the runtime name N (default "secrun"):
//
//	[plugins.<CRI>.containerd.runtimes.N]
//	  runtime_type = "io.containerd.runc.v2"
//	  pod_annotations = ["secrun.io/*"]
//	[plugins.<CRI>.containerd.runtimes.N.options]
//	  <the runc entry's options>
//	  BinaryName = "<secrun>"
//
// with <CRI> "io.containerd.grpc.v1.cri" in a version 2 config (containerd
// 1.6/1.7) and "io.containerd.cri.v1.runtime" in a version 3 config
// (containerd 2.x); --default also sets default_runtime_name = N.
//
// Where it writes it: a drop-in file, <config dir>/conf.d/secrun.toml,
// listed in the main file's `imports`, wherever containerd merges such a
// file safely:
//
//   - containerd 2.x merges imported files into the main config key by key,
//     so a version 3 config always gets the drop-in;
//   - containerd 1.6/1.7 replaces a plugin's whole section with the section
//     of an imported file, so a version 2 config gets the drop-in only when
//     no file it loads has a CRI plugin section; otherwise the main file is
//     edited in place (see edit.go for how that keeps the admin's comments
//     and formatting).
//
// Every run first takes out what an earlier run added, then adds what this
// one asks for: a second identical run finds nothing to change.
package setup

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

const usage = `Usage: secrun setup containerd [flags]

Register secrun as a containerd CRI runtime (or remove it with --uninstall).

  --config PATH        containerd config (default /etc/containerd/config.toml;
                       created if missing)
  --binary PATH        the secrun binary containerd runs (default: the secrun
                       that ran this command)
  --runtime-name NAME  CRI runtime handler name (default secrun)
  --default            also make it containerd's default_runtime_name
  --uninstall          remove what secrun setup added, restoring the rest
  --dry-run            print the changes as a diff; write nothing
  --in-place           edit the config file itself, not a conf.d drop-in
  --version 2|3        config version for a new file (default: from the installed
                       containerd, 1.x -> 2, 2.x -> 3; 3 if none is found)

A version 3 config (containerd 2.x) gets a drop-in, <config dir>/conf.d/secrun.toml,
added to the config's imports. A version 2 config (containerd 1.6/1.7) gets the
drop-in only when it has no [plugins."io.containerd.grpc.v1.cri"] section, since
containerd 1.x lets an imported file replace that whole section; otherwise the
runtime is added to the config file itself, marked with comments so --uninstall
removes exactly it. The first change keeps a copy of the config in
<config>.secrun-backup. Restart containerd afterwards.
`

// Options are the command's settings.
type Options struct {
	Config      string
	Binary      string
	RuntimeName string
	Default     bool
	Uninstall   bool
	DryRun      bool
	InPlace     bool
	Version     int    // config version for a new file; 0: detect
	Containerd  string // containerd binary asked for its version; "" looks it up in PATH
}

// Main runs `secrun setup ARGS...` and returns the exit status: 0 done (or
// nothing to do), 1 failed (nothing written), 2 bad usage.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	case "containerd":
	default:
		fmt.Fprintf(stderr, "secrun setup: unknown target %q (only \"containerd\" is supported)\n\n%s", args[0], usage)
		return 2
	}
	o := Options{}
	fs := flag.NewFlagSet("secrun setup containerd", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.Config, "config", "/etc/containerd/config.toml", "")
	fs.StringVar(&o.Binary, "binary", "", "")
	fs.StringVar(&o.RuntimeName, "runtime-name", "secrun", "")
	fs.BoolVar(&o.Default, "default", false, "")
	fs.BoolVar(&o.Uninstall, "uninstall", false, "")
	fs.BoolVar(&o.DryRun, "dry-run", false, "")
	fs.BoolVar(&o.InPlace, "in-place", false, "")
	fs.IntVar(&o.Version, "version", 0, "")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			return 0
		}
		fmt.Fprintf(stderr, "secrun setup containerd: %v\n\n%s", err, usage)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "secrun setup containerd: unexpected argument %q\n\n%s", fs.Arg(0), usage)
		return 2
	}
	if o.Version != 0 && o.Version != 2 && o.Version != 3 {
		fmt.Fprintf(stderr, "secrun setup containerd: --version must be 2 (containerd 1.6/1.7) or 3 (containerd 2.x), not %d\n", o.Version)
		return 2
	}
	if err := Run(o, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "secrun setup containerd: %v\n", err)
		return 1
	}
	return 0
}

var runtimeNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// Run carries out the command: it plans every change, validates the
// result, then writes (or, with DryRun, prints the diff).
func Run(o Options, stdout, stderr io.Writer) error {
	p, err := makePlan(&o)
	if err != nil {
		return err
	}
	for _, w := range p.warnings {
		fmt.Fprintf(stderr, "secrun setup containerd: warning: %s\n", w)
	}
	if len(p.changes) == 0 {
		fmt.Fprintln(stdout, p.unchanged)
		return nil
	}
	if o.DryRun {
		for _, c := range p.changes {
			oldName, newName := c.path, c.path
			if !c.before.exists {
				oldName = "/dev/null"
			}
			if !c.after.exists {
				newName = "/dev/null"
			}
			lineDiff(stdout, oldName, newName, c.before.text, c.after.text)
		}
		fmt.Fprintln(stdout, "dry run: nothing written; without --dry-run, secrun setup would have:")
		for _, m := range p.messages {
			fmt.Fprintln(stdout, "  "+m)
		}
		return nil
	}
	if err := p.apply(); err != nil {
		return err
	}
	for _, m := range p.messages {
		fmt.Fprintln(stdout, m)
	}
	fmt.Fprintln(stdout, "restart containerd to apply the change (systemctl restart containerd)")
	return nil
}

// change is one file to write or remove.
type change struct {
	path          string // as named to the user
	target        string // the file written (path, or where its symlink points)
	before, after fileState
	backup        bool // keep a copy of the original first
}

func (c change) file() string {
	if c.target != "" {
		return c.target
	}
	return c.path
}

type plan struct {
	changes   []change // in the order to apply
	messages  []string
	warnings  []string
	unchanged string
}

// apply writes the changes in order. If one fails, the ones already made
// are put back.
func (p *plan) apply() error {
	var done []change
	var backups []string
	fail := func(err error) error {
		for i := len(done) - 1; i >= 0; i-- {
			c := done[i]
			if c.before.exists {
				writeAtomic(c.file(), []byte(c.before.text), c.before)
			} else {
				os.Remove(c.file())
			}
		}
		for _, b := range backups {
			os.Remove(b)
		}
		if errors.Is(err, os.ErrPermission) && os.Geteuid() != 0 {
			return fmt.Errorf("%v: run as root (nothing was changed)", err)
		}
		return fmt.Errorf("%v (nothing was changed)", err)
	}
	for _, c := range p.changes {
		if !c.backup {
			continue
		}
		b := c.path + backupSuffix
		if _, err := os.Lstat(b); errors.Is(err, os.ErrNotExist) {
			if err := writeAtomic(b, []byte(c.before.text), c.before); err != nil {
				return fail(fmt.Errorf("keeping a backup of %s: %w", c.path, err))
			}
			backups = append(backups, b)
			p.messages = append(p.messages, "kept a copy of the original "+c.path+" in "+b)
		}
	}
	for _, c := range p.changes {
		var err error
		if c.after.exists {
			if !c.before.exists {
				if err = os.MkdirAll(filepath.Dir(c.file()), 0o755); err != nil {
					err = fmt.Errorf("creating %s: %w", filepath.Dir(c.file()), err)
				}
			}
			if err == nil {
				err = writeAtomic(c.file(), []byte(c.after.text), c.before)
			}
		} else {
			err = removeFile(c.file())
		}
		if err != nil {
			return fail(err)
		}
		done = append(done, c)
	}
	return nil
}

func detectVersion(o *Options, p *plan) (int, error) {
	bin := o.Containerd
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("containerd"); err != nil {
			p.messages = append(p.messages, "no containerd in PATH: wrote a version 3 config (containerd 2.x); pass --version 2 for containerd 1.6/1.7")
			return 3, nil
		}
	}
	v, ver, err := installedConfigVersion(bin)
	if err != nil {
		return 0, fmt.Errorf("%v: pass --version 2 (containerd 1.6/1.7) or --version 3 (containerd 2.x)", err)
	}
	p.messages = append(p.messages, fmt.Sprintf("created a version %d config for containerd %s (%s)", v, ver, bin))
	return v, nil
}

// dropInText writes the drop-in file: the whole file is setup's.
func dropInText(e *entry, mainPath string) (string, error) {
	var b strings.Builder
	b.WriteString(dropInFirstLine + "\n")
	fmt.Fprintf(&b, "# Registers the %q runtime with containerd's CRI plugin; imported by %s.\n", e.name, mainPath)
	b.WriteString("# `secrun setup containerd` rewrites this file and `secrun setup containerd --uninstall` removes it:\n")
	b.WriteString("# run it again rather than editing here (say after changing runc's options, which it copies).\n")
	if e.version == 2 {
		fmt.Fprintf(&b, "# containerd 1.6/1.7 replaces the main config's whole [plugins.%q] section with this file's: if you add\n", criPlugin(2))
		fmt.Fprintf(&b, "# one to %s, run `secrun setup containerd` again, and it moves the entry there.\n", mainPath)
	}
	fmt.Fprintf(&b, "version = %d\n", e.version)
	if e.setDflt {
		b.WriteString("\n")
		prev := e.prevDflt
		if prev == "" {
			prev = "runc (containerd's default)"
		}
		fmt.Fprintf(&b, "# default_runtime_name was %s before; removing this file restores that.\n", prev)
		fmt.Fprintf(&b, "[%s]\n  default_runtime_name = %s\n", tomlPath(containerdTable(e.version)), tomlString(e.name))
	}
	lines, err := e.tableLines()
	if err != nil {
		return "", err
	}
	b.WriteString("\n")
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	return b.String(), nil
}

func planUninstall(p *plan, mainPath, mainTarget, dropPath string, mainSt, dropSt fileState, base string, marked bool) (*plan, error) {
	if marked {
		after := mainSt
		after.text = base
		if base == "" {
			// the file only held what setup wrote: it created it
			after.exists = false
			p.messages = append(p.messages, "removed "+mainPath+", which secrun setup had created")
		} else {
			p.messages = append(p.messages, "removed what secrun setup had added to "+mainPath)
		}
		p.changes = append(p.changes, change{path: mainPath, target: mainTarget, before: mainSt, after: after, backup: after.exists})
	}
	if dropSt.exists {
		after := dropSt
		after.exists, after.text = false, ""
		p.changes = append(p.changes, change{path: dropPath, before: dropSt, after: after})
		p.messages = append(p.messages, "removed the drop-in "+dropPath)
	}
	p.unchanged = fmt.Sprintf("nothing to remove: neither %s nor %s holds anything secrun setup added", mainPath, dropPath)
	return p, nil
}
