package setup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	cc "github.com/secrun/secrun/internal/containerdconfig"
	"github.com/secrun/secrun/shim"
)

// makePlan computes every change without writing anything: read the files,
// decide the entry and the config version, edit (in place or through a
// drop-in), check that the edited files mean exactly what was intended,
// then order the changes.
func makePlan(o *Options) (*plan, error) {
	p := &plan{}
	in, err := readInputs(o)
	if err != nil {
		return nil, err
	}
	if o.Uninstall {
		return planUninstall(p, in.mainPath, in.mainTarget, in.dropPath, in.mainSt, in.dropSt, in.base, in.marked)
	}
	name, binary, err := runtimeToAdd(o, p)
	if err != nil {
		return nil, err
	}
	version, newFile, err := configVersionFor(o, p, in)
	if err != nil {
		return nil, err
	}
	set, err := cc.Load(in.baseFile, cc.Options{Version: version, Overrides: map[string]*string{in.dropPath: nil}})
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
	ed, err := planEdits(o, p, in, set, e, version, newFile)
	if err != nil {
		return nil, err
	}
	if err := ed.check(in, e, version); err != nil {
		return nil, err
	}
	p.order(in, ed)
	p.describe(o, in, e, ed)
	return p, nil
}

// inputs is what makePlan reads before deciding anything.
type inputs struct {
	mainPath   string // containerd's config, absolute
	mainTarget string // the file it names (through a symlink)
	dropPath   string // secrun's drop-in beside it
	mainSt     fileState
	dropSt     fileState
	base       string  // the main file without the lines setup added
	marked     bool    // it had such lines
	baseFile   cc.File // base, parsed
}

func readInputs(o *Options) (*inputs, error) {
	mainPath, err := filepath.Abs(o.Config)
	if err != nil {
		return nil, err
	}
	in := &inputs{mainPath: filepath.Clean(mainPath)}
	in.dropPath = filepath.Join(filepath.Dir(in.mainPath), "conf.d", "secrun.toml")

	// A symlinked config is written through the link, not over it.
	in.mainTarget = in.mainPath
	if fi, err := os.Lstat(in.mainPath); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		if in.mainTarget, err = filepath.EvalSymlinks(in.mainPath); err != nil {
			return nil, fmt.Errorf("%s is a symlink that does not resolve: %v", in.mainPath, err)
		}
	}
	if in.mainSt, err = readState(in.mainTarget); err != nil {
		return nil, err
	}
	if in.dropSt, err = readState(in.dropPath); err != nil {
		return nil, err
	}
	if in.dropSt.exists && !strings.HasPrefix(in.dropSt.text, dropInFirstLine) {
		return nil, fmt.Errorf("%s exists but was not written by secrun setup: move it away (or merge it into %s), then run this again", in.dropPath, in.mainPath)
	}
	if in.mainSt.exists {
		if _, err := decodeTOML(in.mainPath, in.mainSt.text); err != nil {
			return nil, fmt.Errorf("%v: fix the file first (nothing was changed)", err)
		}
	}
	if in.base, in.marked, err = stripMarks(in.mainSt.text, in.mainPath); err != nil {
		return nil, err
	}
	if in.baseFile, err = cc.Parse(in.mainPath, in.base); err != nil {
		return nil, fmt.Errorf("without the lines secrun setup added, %v: fix the file by hand, or restore it from %s", err, in.mainPath+backupSuffix)
	}
	return in, nil
}

// runtimeToAdd checks the runtime's name and the wrapper binary to register.
func runtimeToAdd(o *Options, p *plan) (name, binary string, err error) {
	name = o.RuntimeName
	if !runtimeNameRE.MatchString(name) {
		return "", "", fmt.Errorf("--runtime-name %q: use letters, digits, '.', '_' and '-'", name)
	}
	if name == "runc" {
		return "", "", errors.New("--runtime-name runc would replace containerd's runc entry: choose another name")
	}
	binary = o.Binary
	if binary == "" {
		if binary, err = shim.WrapperPath(); err != nil {
			return "", "", fmt.Errorf("%v: pass --binary", err)
		}
	}
	if strings.ContainsAny(binary, "\n\r") {
		return "", "", fmt.Errorf("--binary %q: a path with a newline", binary)
	}
	if binary, err = filepath.Abs(binary); err != nil {
		return "", "", fmt.Errorf("--binary: %v", err)
	}
	if fi, err := os.Stat(binary); err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		p.warnings = append(p.warnings, fmt.Sprintf("%s is not an executable file (yet?): containerd will fail to start containers with runtime %q until it is", binary, name))
	}
	return name, binary, nil
}

// configVersionFor: the existing file's version, or for a new (missing,
// empty, comments-only) file --version or containerd's.
func configVersionFor(o *Options, p *plan, in *inputs) (version int, newFile bool, err error) {
	if len(in.baseFile.Data) == 0 {
		if o.Version != 0 {
			return o.Version, true, nil
		}
		version, err = detectVersion(o, p)
		return version, true, err
	}
	if version, err = configVersion(in.mainPath, in.baseFile.Data); err != nil {
		return 0, false, err
	}
	if o.Version != 0 && o.Version != version {
		return 0, false, fmt.Errorf("%s is a version %d config, not version %d: drop --version, or convert the file with `containerd config migrate`", in.mainPath, version, o.Version)
	}
	return version, false, nil
}

// edited is the main file and the drop-in after the edits, and what the
// main file must decode to.
type edited struct {
	inPlace  bool
	newMain  string
	newDrop  string
	expected map[string]any
	block    []string // the entry's lines, for the "add by hand" messages
}

// planEdits writes the entry into the main file (in place) or into the
// drop-in with an import of it (the default), keeping every other line.
func planEdits(o *Options, p *plan, in *inputs, set *cc.Set, e *entry, version int, newFile bool) (*edited, error) {
	lay, err := newLayout(in.base)
	if err != nil {
		return nil, fmt.Errorf("cannot edit %s safely: %v", in.mainPath, err)
	}
	// containerd 1.x lets a later file's [plugins."cri"] replace the whole
	// section of the files before it: a drop-in would be dropped.
	criFiles := set.Defining("plugins", criPlugin(version))
	if version == 2 {
		for _, f := range criFiles {
			if f != in.mainPath {
				return nil, fmt.Errorf("%s, imported by %s, has a [plugins.%q] section, and containerd 1.x lets it replace the whole section of the files before it: "+
					"register the runtime in that file instead (secrun setup containerd --config %s)", f, in.mainPath, criPlugin(version), f)
			}
		}
	}
	ed := &edited{inPlace: o.InPlace || (version == 2 && len(criFiles) > 0), expected: cc.DeepCopy(in.baseFile.Data)}
	t := containerdTable(version)
	var edits []edit
	var versionStmt *stmt
	if s, ok := lay.keyValue([]string{"version"}); ok {
		versionStmt = &s
	}
	if newFile {
		edits = append(edits, edit{lines: newLines(fmt.Sprintf("version = %d%s%s", version, addedSuffixSpaces, addedSuffix))})
		ed.expected["version"] = int64(version)
	}
	if ed.block, err = e.tableLines(); err != nil {
		return nil, err
	}
	if ed.inPlace {
		// A table written as a value (an inline table) cannot take new
		// [header] sub-tables.
		if s, ok := lay.valueOnPath(join(t, "runtimes", e.name, "options")); ok {
			return nil, fmt.Errorf("%s:%d: %s is written as an inline table or value, so secrun setup cannot add a [%s] table next to it safely: "+
				"rewrite it with [table] headers, or add these lines by hand:\n%s",
				in.mainPath, s.startLine+1, tomlPath(s.fullPath()), tomlPath(join(t, "runtimes", e.name)), strings.Join(ed.block, "\n"))
		}
		block := ed.block
		if e.setDflt {
			de, ok, err := lay.setKey(in.mainPath, join(t, "default_runtime_name"), tomlString(e.name))
			if err != nil {
				return nil, err
			}
			if ok {
				edits = append(edits, de)
			} else {
				block = append([]string{"[" + tomlPath(t) + "]", "  default_runtime_name = " + tomlString(e.name), ""}, block...)
			}
		}
		edits = append(edits, lay.appendBlock(block))
		ed.block = block
		e.apply(ed.expected)
	} else {
		if ed.newDrop, err = dropInText(e, in.mainPath); err != nil {
			return nil, err
		}
		imports, err := cc.Imports(in.baseFile)
		if err != nil {
			return nil, err
		}
		if pat, ok := importCovers(in.mainPath, imports, in.dropPath, version); ok {
			p.messages = append(p.messages, fmt.Sprintf("%s already imports %s (through %q)", in.mainPath, in.dropPath, pat))
		} else {
			all := append(append([]string(nil), imports...), in.dropPath)
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
			ed.expected["imports"] = anyAll
			p.messages = append(p.messages, fmt.Sprintf("added %s to the imports of %s", in.dropPath, in.mainPath))
		}
	}
	ed.newMain = applyEdits(in.base, edits)
	return ed, nil
}

// check: the new main file must decode to exactly the old data plus what
// was meant to be added, the drop-in to just the entry, and containerd's
// merged view must show the entry as intended.
func (ed *edited) check(in *inputs, e *entry, version int) error {
	byHand := strings.Join(ed.block, "\n")
	gotFile, err := cc.Parse(in.mainPath, ed.newMain)
	if err != nil {
		return fmt.Errorf("cannot edit %s safely (the edited file would not parse: %v); nothing was changed. Add these lines by hand:\n%s", in.mainPath, err, byHand)
	}
	if !reflect.DeepEqual(gotFile.Data, ed.expected) {
		return fmt.Errorf("cannot edit %s safely: the edited file would not mean what was intended (a key defined in an unusual way?); nothing was changed. Add these lines by hand:\n%s",
			in.mainPath, byHand)
	}
	overrides := map[string]*string{in.dropPath: nil}
	if !ed.inPlace {
		wantDrop := map[string]any{"version": int64(version)}
		e.apply(wantDrop)
		gotDrop, err := decodeTOML(in.dropPath, ed.newDrop)
		if err != nil || !reflect.DeepEqual(gotDrop, wantDrop) {
			return fmt.Errorf("internal error: the drop-in %s would not hold the runtime entry (%v); nothing was changed", in.dropPath, err)
		}
		overrides[in.dropPath] = &ed.newDrop
	}
	newSet, err := cc.Load(gotFile, cc.Options{Version: version, Overrides: overrides})
	if err != nil {
		return err
	}
	return e.checkEffective(newSet)
}

// order lists the changes in a safe order: the drop-in exists before the
// main file imports it, and goes after the main file stops importing it.
func (p *plan) order(in *inputs, ed *edited) {
	mainAfter := in.mainSt
	mainAfter.exists, mainAfter.text = true, ed.newMain
	dropAfter := in.dropSt
	dropAfter.exists, dropAfter.text = !ed.inPlace, ed.newDrop
	if !in.dropSt.exists {
		dropAfter.perm = 0o644
	}
	if dropAfter.exists && (!in.dropSt.exists || in.dropSt.text != ed.newDrop) {
		p.changes = append(p.changes, change{path: in.dropPath, before: in.dropSt, after: dropAfter})
	}
	if !in.mainSt.exists || in.mainSt.text != ed.newMain {
		p.changes = append(p.changes, change{path: in.mainPath, target: in.mainTarget, before: in.mainSt, after: mainAfter, backup: in.mainSt.exists})
	}
	if !dropAfter.exists && in.dropSt.exists {
		p.changes = append(p.changes, change{path: in.dropPath, before: in.dropSt, after: dropAfter})
	}
}

// describe says what the plan does, or that nothing needed doing.
func (p *plan) describe(o *Options, in *inputs, e *entry, ed *edited) {
	version := e.version
	where := in.dropPath + " (a drop-in imported by " + in.mainPath + ")"
	if ed.inPlace {
		why := "it has a [plugins.\"" + criPlugin(version) + "\"] section, which a containerd 1.x drop-in would replace"
		if o.InPlace {
			why = "--in-place"
		}
		where = in.mainPath + " (edited in place: " + why + ")"
	}
	msg := fmt.Sprintf("registered runtime %q (BinaryName %s) in %s, config version %d", e.name, e.binary, where, version)
	if e.addRunc {
		msg += "; also listed containerd's default runc entry, which containerd 1.x would otherwise drop"
	}
	p.messages = append([]string{msg}, p.messages...)
	if e.setDflt {
		prev := e.prevDflt
		if prev == "" {
			prev = "unset, containerd's default runc"
		}
		p.messages = append(p.messages, fmt.Sprintf("set default_runtime_name to %q (it was %s; --uninstall restores it)", e.name, prev))
	}
	p.unchanged = fmt.Sprintf("containerd is already set up: runtime %q (BinaryName %s) in %s; nothing changed", e.name, e.binary, where)
}
