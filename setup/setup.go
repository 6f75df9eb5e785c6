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
	"reflect"
	"regexp"
	"strings"

	cc "github.com/secrun/secrun/internal/containerdconfig"
	"github.com/secrun/secrun/shim"
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

// makePlan computes every change without writing anything.
func makePlan(o *Options) (*plan, error) {
	p := &plan{}
	mainPath, err := filepath.Abs(o.Config)
	if err != nil {
		return nil, err
	}
	mainPath = filepath.Clean(mainPath)
	dropPath := filepath.Join(filepath.Dir(mainPath), "conf.d", "secrun.toml")

	// A symlinked config is written through the link, not over it.
	mainTarget := mainPath
	if fi, err := os.Lstat(mainPath); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		if mainTarget, err = filepath.EvalSymlinks(mainPath); err != nil {
			return nil, fmt.Errorf("%s is a symlink that does not resolve: %v", mainPath, err)
		}
	}
	mainSt, err := readState(mainTarget)
	if err != nil {
		return nil, err
	}
	dropSt, err := readState(dropPath)
	if err != nil {
		return nil, err
	}
	if dropSt.exists && !strings.HasPrefix(dropSt.text, dropInFirstLine) {
		return nil, fmt.Errorf("%s exists but was not written by secrun setup: move it away (or merge it into %s), then run this again", dropPath, mainPath)
	}
	if mainSt.exists {
		if _, err := decodeTOML(mainPath, mainSt.text); err != nil {
			return nil, fmt.Errorf("%v: fix the file first (nothing was changed)", err)
		}
	}
	base, marked, err := stripMarks(mainSt.text, mainPath)
	if err != nil {
		return nil, err
	}
	baseFile, err := cc.Parse(mainPath, base)
	baseData := baseFile.Data
	if err != nil {
		return nil, fmt.Errorf("without the lines secrun setup added, %v: fix the file by hand, or restore it from %s", err, mainPath+backupSuffix)
	}

	if o.Uninstall {
		return planUninstall(p, mainPath, mainTarget, dropPath, mainSt, dropSt, base, marked)
	}

	// What to register.
	name := o.RuntimeName
	if !runtimeNameRE.MatchString(name) {
		return nil, fmt.Errorf("--runtime-name %q: use letters, digits, '.', '_' and '-'", name)
	}
	if name == "runc" {
		return nil, errors.New("--runtime-name runc would replace containerd's runc entry: choose another name")
	}
	binary := o.Binary
	if binary == "" {
		if binary, err = shim.WrapperPath(); err != nil {
			return nil, fmt.Errorf("%v: pass --binary", err)
		}
	}
	if strings.ContainsAny(binary, "\n\r") {
		return nil, fmt.Errorf("--binary %q: a path with a newline", binary)
	}
	if binary, err = filepath.Abs(binary); err != nil {
		return nil, fmt.Errorf("--binary: %v", err)
	}
	if fi, err := os.Stat(binary); err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		p.warnings = append(p.warnings, fmt.Sprintf("%s is not an executable file (yet?): containerd will fail to start containers with runtime %q until it is", binary, name))
	}

	// The config version.
	version := 0
	newFile := len(baseData) == 0 // missing, empty, or only comments
	if newFile {
		version = o.Version
		if version == 0 {
			version, err = detectVersion(o, p)
			if err != nil {
				return nil, err
			}
		}
	} else {
		if version, err = configVersion(mainPath, baseData); err != nil {
			return nil, err
		}
		if o.Version != 0 && o.Version != version {
			return nil, fmt.Errorf("%s is a version %d config, not version %d: drop --version, or convert the file with `containerd config migrate`", mainPath, version, o.Version)
		}
	}

	lay, err := newLayout(base)
	if err != nil {
		return nil, fmt.Errorf("cannot edit %s safely: %v", mainPath, err)
	}
	set, err := cc.Load(baseFile, cc.Options{Version: version, Overrides: map[string]*string{dropPath: nil}})
	if err != nil {
		return nil, err
	}
	p.warnings = append(p.warnings, set.Missing...)
	p.warnings = append(p.warnings, set.Notes...)
	t := containerdTable(version)
	if fs := set.Defining(join(t, "runtimes", name)...); len(fs) > 0 {
		return nil, fmt.Errorf("%s already defines runtime %q, which secrun setup did not add: remove that entry, or register under another name with --runtime-name",
			strings.Join(fs, ", "), name)
	}
	e, err := newEntry(set, version, name, binary, o.Default)
	if err != nil {
		return nil, err
	}

	// Drop-in or in place.
	criFiles := set.Defining("plugins", criPlugin(version))
	if version == 2 {
		for _, f := range criFiles {
			if f != mainPath {
				return nil, fmt.Errorf("%s, imported by %s, has a [plugins.%q] section, and containerd 1.x lets it replace the whole section of the files before it: "+
					"register the runtime in that file instead (secrun setup containerd --config %s)", f, mainPath, criPlugin(version), f)
			}
		}
	}
	inPlace := o.InPlace || (version == 2 && len(criFiles) > 0)

	expected := cc.DeepCopy(baseData)
	var edits []edit
	var versionStmt *stmt
	if s, ok := lay.keyValue([]string{"version"}); ok {
		versionStmt = &s
	}
	if newFile {
		edits = append(edits, edit{lines: newLines(fmt.Sprintf("version = %d%s%s", version, addedSuffixSpaces, addedSuffix))})
		expected["version"] = int64(version)
	}
	block, err := e.tableLines()
	if err != nil {
		return nil, err
	}
	var newDrop string
	if inPlace {
		// A table written as a value (an inline table) cannot take new
		// [header] sub-tables.
		if s, ok := lay.valueOnPath(join(t, "runtimes", name, "options")); ok {
			return nil, fmt.Errorf("%s:%d: %s is written as an inline table or value, so secrun setup cannot add a [%s] table next to it safely: "+
				"rewrite it with [table] headers, or add these lines by hand:\n%s",
				mainPath, s.startLine+1, tomlPath(s.fullPath()), tomlPath(join(t, "runtimes", name)), strings.Join(block, "\n"))
		}
		if e.setDflt {
			ed, ok, err := lay.setKey(mainPath, join(t, "default_runtime_name"), tomlString(name))
			if err != nil {
				return nil, err
			}
			if ok {
				edits = append(edits, ed)
			} else {
				block = append([]string{"[" + tomlPath(t) + "]", "  default_runtime_name = " + tomlString(name), ""}, block...)
			}
		}
		edits = append(edits, lay.appendBlock(block))
		e.apply(expected)
	} else {
		var err error
		if newDrop, err = dropInText(e, mainPath); err != nil {
			return nil, err
		}
		imports, err := cc.Imports(baseFile)
		if err != nil {
			return nil, err
		}
		if pat, ok := importCovers(mainPath, imports, dropPath, version); ok {
			p.messages = append(p.messages, fmt.Sprintf("%s already imports %s (through %q)", mainPath, dropPath, pat))
		} else {
			all := append(append([]string(nil), imports...), dropPath)
			val, _ := tomlValue(all)
			if s, ok := lay.keyValue([]string{"imports"}); ok {
				edits = append(edits, lay.replaceKey(s, s.indent+s.keyText+" = "+val))
			} else if versionStmt != nil {
				edits = append(edits, lay.insertAfter(*versionStmt, versionStmt.indent+"imports = "+val))
			} else {
				edits = append(edits, edit{lines: newLines("imports = " + val + addedSuffixSpaces + addedSuffix)})
			}
			anyAll := make([]any, len(all))
			for i, s := range all {
				anyAll[i] = s
			}
			expected["imports"] = anyAll
			p.messages = append(p.messages, fmt.Sprintf("added %s to the imports of %s", dropPath, mainPath))
		}
	}
	newMain := applyEdits(base, edits)

	// Validate: the new main file must decode to exactly the old data plus
	// what was meant to be added.
	gotFile, err := cc.Parse(mainPath, newMain)
	gotMain := gotFile.Data
	if err != nil {
		return nil, fmt.Errorf("cannot edit %s safely (the edited file would not parse: %v); nothing was changed. Add these lines by hand:\n%s",
			mainPath, err, strings.Join(block, "\n"))
	}
	if !reflect.DeepEqual(gotMain, expected) {
		return nil, fmt.Errorf("cannot edit %s safely: the edited file would not mean what was intended (a key defined in an unusual way?); nothing was changed. Add these lines by hand:\n%s",
			mainPath, strings.Join(block, "\n"))
	}
	overrides := map[string]*string{dropPath: nil}
	if !inPlace {
		wantDrop := map[string]any{"version": int64(version)}
		e.apply(wantDrop)
		gotDrop, err := decodeTOML(dropPath, newDrop)
		if err != nil || !reflect.DeepEqual(gotDrop, wantDrop) {
			return nil, fmt.Errorf("internal error: the drop-in %s would not hold the runtime entry (%v); nothing was changed", dropPath, err)
		}
		overrides[dropPath] = &newDrop
	}
	newSet, err := cc.Load(gotFile, cc.Options{Version: version, Overrides: overrides})
	if err != nil {
		return nil, err
	}
	if err := e.checkEffective(newSet); err != nil {
		return nil, err
	}

	// The changes, in a safe order: the drop-in exists before the main
	// file imports it.
	mainAfter := mainSt
	mainAfter.exists, mainAfter.text = true, newMain
	dropAfter := dropSt
	dropAfter.exists, dropAfter.text = !inPlace, newDrop
	if !dropSt.exists {
		dropAfter.perm = 0o644
	}
	if dropAfter.exists && (!dropSt.exists || dropSt.text != newDrop) {
		p.changes = append(p.changes, change{path: dropPath, before: dropSt, after: dropAfter})
	}
	if !mainSt.exists || mainSt.text != newMain {
		p.changes = append(p.changes, change{path: mainPath, target: mainTarget, before: mainSt, after: mainAfter, backup: mainSt.exists})
	}
	if !dropAfter.exists && dropSt.exists {
		p.changes = append(p.changes, change{path: dropPath, before: dropSt, after: dropAfter})
	}

	where := dropPath + " (a drop-in imported by " + mainPath + ")"
	if inPlace {
		why := "it has a [plugins.\"" + criPlugin(version) + "\"] section, which a containerd 1.x drop-in would replace"
		if o.InPlace {
			why = "--in-place"
		}
		where = mainPath + " (edited in place: " + why + ")"
	}
	msg := fmt.Sprintf("registered runtime %q (BinaryName %s) in %s, config version %d", name, binary, where, version)
	if e.addRunc {
		msg += "; also listed containerd's default runc entry, which containerd 1.x would otherwise drop"
	}
	p.messages = append([]string{msg}, p.messages...)
	if e.setDflt {
		prev := e.prevDflt
		if prev == "" {
			prev = "unset, containerd's default runc"
		}
		p.messages = append(p.messages, fmt.Sprintf("set default_runtime_name to %q (it was %s; --uninstall restores it)", name, prev))
	}
	p.unchanged = fmt.Sprintf("containerd is already set up: runtime %q (BinaryName %s) in %s; nothing changed", name, binary, where)
	return p, nil
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
