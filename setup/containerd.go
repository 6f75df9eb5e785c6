package setup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// CRI plugin names by config version: containerd 1.6/1.7 read version 2,
// containerd 2.x version 3 (and migrates 2 on the fly).
const (
	criPluginV2 = "io.containerd.grpc.v1.cri"
	criPluginV3 = "io.containerd.cri.v1.runtime"

	runcShim = "io.containerd.runc.v2"
)

// containerdTable is the path of the CRI `containerd` table, which holds
// default_runtime_name and the runtimes.
func containerdTable(version int) []string {
	if version == 2 {
		return []string{"plugins", criPluginV2, "containerd"}
	}
	return []string{"plugins", criPluginV3, "containerd"}
}

func criPlugin(version int) string { return containerdTable(version)[1] }

func join(p []string, more ...string) []string {
	return append(append([]string(nil), p...), more...)
}

// lookup walks nested tables.
func lookup(m map[string]any, path ...string) (any, bool) {
	var cur any = m
	for _, k := range path {
		t, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		cur, ok = t[k]
		if !ok {
			return nil, false
		}
	}
	return cur, true
}

// setPath sets a value, creating the tables on the way.
func setPath(m map[string]any, path []string, v any) {
	for _, k := range path[:len(path)-1] {
		t, ok := m[k].(map[string]any)
		if !ok {
			t = map[string]any{}
			m[k] = t
		}
		m = t
	}
	m[path[len(path)-1]] = v
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = deepCopy(e)
		}
		return out
	case []map[string]any:
		out := make([]map[string]any, len(v))
		for i, e := range v {
			out[i] = deepCopy(e).(map[string]any)
		}
		return out
	}
	return v
}

// decodeTOML decodes a document into a map, with the error naming the file.
func decodeTOML(file, text string) (map[string]any, toml.MetaData, error) {
	m := map[string]any{}
	md, err := toml.Decode(text, &m)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, md, fmt.Errorf("%s is not valid TOML: line %d: %s", file, pe.Position.Line, pe.Message)
		}
		return nil, md, fmt.Errorf("%s is not valid TOML: %v", file, err)
	}
	return m, md, nil
}

// configVersion reads `version` from a decoded config.
func configVersion(file string, m map[string]any) (int, error) {
	v, ok := m["version"]
	if !ok {
		return 0, fmt.Errorf("%s has no `version` key, so containerd reads it as a version 1 config, which secrun setup does not edit: "+
			"convert it first with `containerd config migrate > new.toml` (containerd 1.7 or 2.x), review new.toml and move it to %s, then run this again",
			file, file)
	}
	n, ok := v.(int64)
	if !ok {
		return 0, fmt.Errorf("%s: `version` is %v, not a number", file, v)
	}
	switch n {
	case 1:
		return 0, fmt.Errorf("%s is a version 1 config, which secrun setup does not edit: convert it first with `containerd config migrate > new.toml` "+
			"(containerd 1.7 or 2.x), review new.toml and move it to %s, then run this again", file, file)
	case 2, 3:
		return int(n), nil
	}
	return 0, fmt.Errorf("%s: config version %d is not supported (secrun setup knows version 2, read by containerd 1.6/1.7, and version 3, read by containerd 2.x)", file, n)
}

// installedConfigVersion asks a containerd binary which config version it
// writes: 1.x → 2, 2.x and later → 3.
func installedConfigVersion(bin string) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return 0, "", fmt.Errorf("%s --version: %v", bin, err)
	}
	// "containerd github.com/containerd/containerd/v2 2.2.1 <revision>"
	fields := strings.Fields(string(out))
	if len(fields) < 3 {
		return 0, "", fmt.Errorf("%s --version printed %q, which has no version", bin, strings.TrimSpace(string(out)))
	}
	ver := strings.TrimPrefix(fields[2], "v")
	major, err := strconv.Atoi(strings.SplitN(ver, ".", 2)[0])
	if err != nil {
		return 0, "", fmt.Errorf("%s --version printed %q, which has no version", bin, strings.TrimSpace(string(out)))
	}
	if major < 2 {
		return 2, ver, nil
	}
	return 3, ver, nil
}

// configFile is one file of the set containerd loads.
type configFile struct {
	path string
	data map[string]any
	md   toml.MetaData
}

// resolveImports turns `imports` entries into paths the way containerd
// does: 2.x makes every relative entry relative to the importing file's
// directory and then expands globs; 1.x expands globs as written (relative
// to its working directory) and only joins plain relative paths.
//
// Globs also match the paths in pending: files about to be written.
func resolveImports(parent string, imports []string, version int, pending []string) []string {
	var out []string
	for _, p := range imports {
		if version == 3 || !strings.Contains(p, "*") {
			p = filepath.Clean(p)
			if !filepath.IsAbs(p) {
				p = filepath.Join(filepath.Dir(parent), p)
			}
		}
		if strings.Contains(p, "*") {
			matches, _ := filepath.Glob(p)
			for _, q := range pending {
				if ok, _ := filepath.Match(p, q); ok && !slices.Contains(matches, q) {
					matches = append(matches, q)
				}
			}
			sort.Strings(matches)
			out = append(out, matches...)
		} else {
			out = append(out, p)
		}
	}
	return out
}

// importsOf reads the `imports` array.
func importsOf(file string, m map[string]any) ([]string, error) {
	v, ok := m["imports"]
	if !ok {
		return nil, nil
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: `imports` is not an array of paths", file)
	}
	out := make([]string, len(arr))
	for i, e := range arr {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("%s: `imports` is not an array of paths", file)
		}
		out[i] = s
	}
	return out, nil
}

// importCovers reports whether an existing `imports` entry already loads
// path. Only entries that mean the same to containerd 1.x and 2.x count for
// version 2 (a relative glob does not).
func importCovers(parent string, imports []string, path string, version int) (string, bool) {
	for _, p := range imports {
		q := p
		if strings.Contains(q, "*") {
			if !filepath.IsAbs(q) {
				if version != 3 {
					continue
				}
				q = filepath.Join(filepath.Dir(parent), q)
			}
			if ok, _ := filepath.Match(filepath.Clean(q), path); ok {
				return p, true
			}
			continue
		}
		q = filepath.Clean(q)
		if !filepath.IsAbs(q) {
			q = filepath.Join(filepath.Dir(parent), q)
		}
		if q == path {
			return p, true
		}
	}
	return "", false
}

const maxImportSize = 16 << 20

// loadSet returns the files containerd would load, in order: the main file
// (given decoded), then its imports breadth first, the way containerd walks
// them. overrides gives the content of files that are about to change
// (a nil entry: the file is about to go away).
func loadSet(mainPath string, main map[string]any, mainMD toml.MetaData, version int, overrides map[string]*string) ([]configFile, []string, error) {
	files := []configFile{{path: mainPath, data: main, md: mainMD}}
	loaded := map[string]bool{mainPath: true}
	var warnings []string
	queue := []configFile{files[0]}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		imps, err := importsOf(cur.path, cur.data)
		if err != nil {
			return nil, nil, err
		}
		var pending []string
		for p, o := range overrides {
			if o != nil {
				pending = append(pending, p)
			}
		}
		for _, p := range resolveImports(cur.path, imps, version, pending) {
			if loaded[p] {
				continue
			}
			loaded[p] = true
			var text string
			if o, ok := overrides[p]; ok {
				if o == nil {
					continue
				}
				text = *o
			} else {
				fi, err := os.Stat(p)
				if errors.Is(err, os.ErrNotExist) {
					warnings = append(warnings, fmt.Sprintf("%s imports %s, which does not exist: containerd will not start until it does", cur.path, p))
					continue
				}
				if err == nil && (!fi.Mode().IsRegular() || fi.Size() > maxImportSize) {
					err = errors.New("not a regular config file")
				}
				var b []byte
				if err == nil {
					b, err = os.ReadFile(p)
				}
				if err != nil {
					return nil, nil, fmt.Errorf("reading %s (imported by %s): %v", p, cur.path, err)
				}
				text = string(b)
			}
			m, md, err := decodeTOML(p, text)
			if err != nil {
				return nil, nil, fmt.Errorf("%v (imported by %s): fix it first", err, cur.path)
			}
			f := configFile{path: p, data: m, md: md}
			files = append(files, f)
			queue = append(queue, f)
		}
	}
	return files, warnings, nil
}

// effective merges a load set the way the containerd that reads this
// config version does. containerd 2.x (version 3) merges imported files
// into the main config key by key (mergo with override: tables are merged,
// a value that is not empty replaces). containerd 1.6/1.7 (version 2) does
// the same for top-level settings but replaces each plugin's section
// wholesale with the imported file's.
func effective(files []configFile, version int) map[string]any {
	out := map[string]any{}
	for _, f := range files {
		for k, v := range f.data {
			if k == "plugins" && version == 2 {
				src, _ := v.(map[string]any)
				dst, ok := out["plugins"].(map[string]any)
				if !ok {
					dst = map[string]any{}
					out["plugins"] = dst
				}
				for name, sec := range src {
					dst[name] = deepCopy(sec)
				}
				continue
			}
			mergeValue(out, k, v)
		}
	}
	return out
}

func mergeValue(dst map[string]any, k string, v any) {
	cur, exists := dst[k]
	if sm, ok := v.(map[string]any); ok {
		if dm, ok := cur.(map[string]any); ok {
			for kk, vv := range sm {
				mergeValue(dm, kk, vv)
			}
			return
		}
	}
	if !exists || !isZero(v) {
		dst[k] = deepCopy(v)
	}
}

func isZero(v any) bool {
	return v == nil || reflect.ValueOf(v).IsZero()
}

// definingFiles lists the files whose own text sets path.
func definingFiles(files []configFile, path []string) []string {
	var out []string
	for _, f := range files {
		if _, ok := lookup(f.data, path...); ok {
			out = append(out, f.path)
		}
	}
	return out
}

// optionOrder lists the keys of the table at path in the order the files
// write them.
func optionOrder(files []configFile, path []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, f := range files {
		for _, k := range f.md.Keys() {
			if len(k) == len(path)+1 && pathEqual(k[:len(path)], path) && !seen[k[len(path)]] {
				seen[k[len(path)]] = true
				out = append(out, k[len(path)])
			}
		}
	}
	return out
}

// entry is what setup registers.
type entry struct {
	version  int
	name     string
	binary   string
	options  map[string]any // the runc options copied, BinaryName set
	order    []string       // option keys in writing order
	addRunc  bool           // also register containerd's default runc entry
	setDflt  bool           // default_runtime_name = name
	prevDflt string         // the default_runtime_name in effect before
	dfltOK   bool           // the default runtime was defined before
}

// apply sets what the entry adds in a decoded config.
func (e *entry) apply(m map[string]any) {
	t := containerdTable(e.version)
	if e.setDflt {
		setPath(m, join(t, "default_runtime_name"), e.name)
	}
	if e.addRunc {
		setPath(m, join(t, "runtimes", "runc"), map[string]any{"runtime_type": runcShim})
	}
	opts := deepCopy(e.options).(map[string]any)
	setPath(m, join(t, "runtimes", e.name), map[string]any{
		"runtime_type":    runcShim,
		"pod_annotations": []any{"secrun.io/*"},
		"options":         opts,
	})
}

// tableLines writes the runtime tables (and the runc entry) as TOML.
func (e *entry) tableLines() ([]string, error) {
	t := containerdTable(e.version)
	var out []string
	if e.addRunc {
		out = append(out,
			"# containerd 1.x replaces its built-in runtimes with the ones a config lists: keep runc.",
			"["+tomlPath(join(t, "runtimes", "runc"))+"]",
			"  runtime_type = "+tomlString(runcShim),
			"")
	}
	out = append(out,
		"["+tomlPath(join(t, "runtimes", e.name))+"]",
		"  runtime_type = "+tomlString(runcShim),
		"  pod_annotations = [\"secrun.io/*\"]",
		"",
		"["+tomlPath(join(t, "runtimes", e.name, "options"))+"]")
	for _, k := range e.order {
		s, err := tomlValue(e.options[k])
		if err != nil {
			return nil, fmt.Errorf("runc option %s: %v", k, err)
		}
		out = append(out, "  "+tomlKey(k)+" = "+s)
	}
	return out, nil
}

// newEntry builds the entry from the config containerd would load now:
// the runc entry's options are copied, then BinaryName points at secrun.
func newEntry(files []configFile, version int, name, binary string, setDflt bool) (*entry, error) {
	t := containerdTable(version)
	eff := effective(files, version)
	e := &entry{version: version, name: name, binary: binary, setDflt: setDflt, options: map[string]any{}}
	if v, ok := lookup(eff, join(t, "runtimes", "runc", "options")...); ok {
		opts, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: %s is not a table", strings.Join(definingFiles(files, join(t, "runtimes", "runc", "options")), ", "), tomlPath(join(t, "runtimes", "runc", "options")))
		}
		e.options = deepCopy(opts).(map[string]any)
		e.order = optionOrder(files, join(t, "runtimes", "runc", "options"))
	}
	if _, ok := e.options["BinaryName"]; !ok {
		e.order = append([]string{"BinaryName"}, e.order...)
	}
	e.options["BinaryName"] = binary
	// keys a later file added through a path optionOrder does not see
	var rest []string
	for k := range e.options {
		found := false
		for _, o := range e.order {
			found = found || o == k
		}
		if !found {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	e.order = append(e.order, rest...)

	if v, ok := lookup(eff, join(t, "default_runtime_name")...); ok {
		e.prevDflt, _ = v.(string)
	}
	dflt := e.prevDflt
	if dflt == "" {
		dflt = "runc"
	}
	_, hasRuntimes := lookup(eff, join(t, "runtimes")...)
	_, hasDflt := lookup(eff, join(t, "runtimes", dflt)...)
	e.dfltOK = !hasRuntimes || hasDflt
	if version == 2 {
		// containerd 1.x decodes a CRI section's runtimes over its defaults
		// by replacing the whole map: a config that lists runtimes but not
		// runc loses runc, and the CRI plugin refuses to load when
		// default_runtime_name names a runtime that is gone.
		if _, ok := lookup(eff, join(t, "runtimes")...); !ok {
			e.addRunc = true
		}
	}
	return e, nil
}

// checkEffective checks the result as containerd will see it.
func (e *entry) checkEffective(files []configFile) error {
	t := containerdTable(e.version)
	eff := effective(files, e.version)
	var order []string
	for _, f := range files {
		order = append(order, f.path)
	}
	bin, _ := lookup(eff, join(t, "runtimes", e.name, "options", "BinaryName")...)
	if bin != e.binary {
		return fmt.Errorf("after the change, containerd would still not run %s for runtime %q: a file it loads later overrides it (load order: %s)",
			e.binary, e.name, strings.Join(order, ", "))
	}
	dflt, _ := lookup(eff, join(t, "default_runtime_name")...)
	if e.setDflt && dflt != e.name {
		return fmt.Errorf("after the change, default_runtime_name would still be %v, set by a file containerd loads later (load order: %s): change it there",
			dflt, strings.Join(order, ", "))
	}
	if e.version == 2 && e.dfltOK {
		name, _ := dflt.(string)
		if name == "" {
			name = "runc"
		}
		if _, ok := lookup(eff, join(t, "runtimes", name)...); !ok {
			return fmt.Errorf("after the change, the default runtime %q would not be defined and containerd 1.x would not load its CRI plugin (load order: %s)",
				name, strings.Join(order, ", "))
		}
	}
	return nil
}
