// Package containerdconfig reads a containerd config and the files it
// imports the way containerd does, so that `secrun setup containerd` and
// `secrun check` see the same runtime entry containerd will.
//
// The rules follow containerd's own loader (LoadConfig and mergeConfig in
// cmd/containerd/server/config, services/server/config in 1.x):
//
//   - Files load breadth first: the main file, then its `imports` in the
//     order written, then their imports; a file already loaded is skipped.
//   - An import is cleaned, made relative to the importing file's
//     directory when it is not absolute, then expanded when it has a '*'
//     (filepath.Glob, so sorted matches). containerd before 1.6.29 and
//     1.7.16 matched a relative pattern against its working directory
//     instead: Load notes such patterns in a version 2 config.
//   - An import without '*' that does not exist stops containerd.
//   - Later files win. containerd 2.x (version 3 configs) merges plugin
//     sections key by key (mergo with override: tables merge, any value
//     replaces, arrays are replaced); containerd 1.x (version 2) replaces a
//     plugin's whole section with a later file's.
//   - containerd 2.0-2.2 migrate the merged config when the last file with
//     a `version` has an older one: the CRI `containerd` table of version 2
//     moves to the version 3 plugin, keys already there winning. (2.3
//     migrates each file instead; Load notes such mixed sets.)
package containerdconfig

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// CRI plugin names by config version: containerd 1.6/1.7 read version 2,
// containerd 2.x version 3 (and migrates 2 on the fly).
const (
	CRIPluginV2 = "io.containerd.grpc.v1.cri"
	CRIPluginV3 = "io.containerd.cri.v1.runtime"
)

// CRIPlugin is the CRI runtime plugin's name in a config of this version.
func CRIPlugin(version int) string {
	if version == 2 {
		return CRIPluginV2
	}
	return CRIPluginV3
}

// ContainerdTable is the path of the CRI `containerd` table, which holds
// default_runtime_name and the runtimes.
func ContainerdTable(version int) []string {
	return []string{"plugins", CRIPlugin(version), "containerd"}
}

// File is one file of the set containerd loads.
type File struct {
	Path string
	// Version is the file's own `version` (0: none).
	Version int
	// Data is the file decoded, after the migration containerd 2.x applies
	// to a file of an older version (see Load).
	Data map[string]any
	// Keys lists the key paths the file writes, in the order written
	// (table headers, keys, and keys inside inline tables).
	Keys [][]string
}

// Decode decodes one TOML document; the error names the file and line.
func Decode(name, text string) (map[string]any, error) {
	m := map[string]any{}
	if err := toml.Unmarshal([]byte(text), &m); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, _ := de.Position()
			return nil, fmt.Errorf("%s is not valid TOML: line %d: %s", name, row, strings.TrimPrefix(de.Error(), "toml: "))
		}
		return nil, fmt.Errorf("%s is not valid TOML: %v", name, err)
	}
	return m, nil
}

// Parse decodes a file and records the order of its keys.
func Parse(path, text string) (File, error) {
	m, err := Decode(path, text)
	if err != nil {
		return File{}, err
	}
	f := File{Path: path, Data: m, Keys: KeyPaths(text)}
	if v, ok := m["version"].(int64); ok {
		f.Version = int(v)
	}
	return f, nil
}

// KeyPaths lists the key paths a (valid) document writes, in order.
func KeyPaths(text string) [][]string {
	p := unstable.Parser{}
	p.Reset([]byte(text))
	var out [][]string
	var table []string
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			table = keyOf(e.Key())
			if e.Kind == unstable.ArrayTable {
				// keys inside an array of tables are not a table's keys
				table = append(table, "[]")
			}
			out = append(out, table)
		case unstable.KeyValue:
			out = appendKeyValue(out, table, e)
		}
	}
	return out
}

func appendKeyValue(out [][]string, table []string, kv *unstable.Node) [][]string {
	full := append(slices.Clone(table), keyOf(kv.Key())...)
	out = append(out, full)
	if v := kv.Value(); v.Kind == unstable.InlineTable {
		for it := v.Children(); it.Next(); {
			out = appendKeyValue(out, full, it.Node())
		}
	}
	return out
}

func keyOf(it unstable.Iterator) []string {
	var k []string
	for it.Next() {
		k = append(k, string(it.Node().Data))
	}
	return k
}

// Imports reads a file's `imports` array.
func Imports(f File) ([]string, error) {
	v, ok := f.Data["imports"]
	if !ok {
		return nil, nil
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: `imports` is not an array of paths", f.Path)
	}
	out := make([]string, len(arr))
	for i, e := range arr {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("%s: `imports` is not an array of paths", f.Path)
		}
		out[i] = s
	}
	return out, nil
}

// Resolve turns `imports` entries into paths the way containerd does.
// Patterns also match the paths in pending: files about to be written.
func Resolve(parent string, imports []string, pending []string) []string {
	var out []string
	for _, p := range imports {
		p = filepath.Clean(p)
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(parent), p)
		}
		if !strings.Contains(p, "*") {
			out = append(out, p)
			continue
		}
		matches, _ := filepath.Glob(p)
		for _, q := range pending {
			if ok, _ := filepath.Match(p, q); ok && !slices.Contains(matches, q) {
				matches = append(matches, q)
			}
		}
		slices.Sort(matches)
		out = append(out, matches...)
	}
	return out
}

// Set is what containerd loads from one main file.
type Set struct {
	// Version is the main file's config version: it decides the merge
	// rules (2: containerd 1.x, 3 and later: containerd 2.x).
	Version int
	Files   []File
	// Missing lists imports that do not exist: containerd will not start.
	Missing []string
	// Notes are things containerd versions read differently.
	Notes []string
}

// Options tune Load.
type Options struct {
	// Overrides gives the content of files about to change (a nil entry:
	// the file is about to go away).
	Overrides map[string]*string
	// Version is the config version when main has none yet (a new file).
	Version int
}

const maxImportSize = 16 << 20

// Load returns main and the files it imports, in the order containerd
// loads them.
func Load(main File, opt Options) (*Set, error) {
	s := &Set{Version: main.Version, Files: []File{main}}
	if s.Version == 0 {
		s.Version = opt.Version
	}
	var pending []string
	for p, o := range opt.Overrides {
		if o != nil {
			pending = append(pending, p)
		}
	}
	loaded := map[string]bool{main.Path: true}
	for i := 0; i < len(s.Files); i++ {
		cur := s.Files[i]
		imps, err := Imports(cur)
		if err != nil {
			return nil, err
		}
		if s.Version == 2 {
			for _, p := range imps {
				if strings.Contains(p, "*") && !filepath.IsAbs(p) {
					s.Notes = append(s.Notes, fmt.Sprintf("%s imports %q: containerd before 1.6.29 and 1.7.16 matches a relative pattern against its working directory, not %s; write it as an absolute path",
						cur.Path, p, filepath.Dir(cur.Path)))
				}
			}
		}
		for _, p := range Resolve(cur.Path, imps, pending) {
			if loaded[p] {
				continue
			}
			loaded[p] = true
			text, ok, err := readImport(p, cur.Path, opt.Overrides)
			if err != nil {
				return nil, err
			}
			if !ok {
				if _, over := opt.Overrides[p]; !over {
					s.Missing = append(s.Missing, fmt.Sprintf("%s imports %s, which does not exist: containerd will not start until it does", cur.Path, p))
				}
				continue
			}
			f, err := Parse(p, text)
			if err != nil {
				return nil, fmt.Errorf("%v (imported by %s): fix it first", err, cur.Path)
			}
			if s.Version >= 3 && f.Version < 3 {
				s.Notes = append(s.Notes, fmt.Sprintf("%s is a version %d config imported into a version 3 one: containerd 2.0-2.2 migrate the merged config, where its CRI runtimes count only if no other file lists runtimes, and 2.3 migrates each file; convert it with `containerd config migrate`",
					p, f.Version))
			}
			s.Files = append(s.Files, f)
		}
	}
	return s, nil
}

func readImport(p, parent string, overrides map[string]*string) (string, bool, error) {
	if o, ok := overrides[p]; ok {
		if o == nil {
			return "", false, nil
		}
		return *o, true, nil
	}
	fi, err := os.Stat(p)
	if errors.Is(err, os.ErrNotExist) {
		return "", false, nil
	}
	if err == nil && (!fi.Mode().IsRegular() || fi.Size() > maxImportSize) {
		err = errors.New("not a regular config file")
	}
	var b []byte
	if err == nil {
		b, err = os.ReadFile(p)
	}
	if err != nil {
		return "", false, fmt.Errorf("reading %s (imported by %s): %v", p, parent, err)
	}
	return string(b), true, nil
}

// migrate moves the CRI `containerd` table of a version 2 config where
// containerd 2.x reads it, as its CRI plugin's config migration does: keys
// already set in the new place win, each as a whole (`runtimes` too).
func migrate(m map[string]any) {
	old, ok := Lookup(m, ContainerdTable(2)...)
	src, _ := old.(map[string]any)
	if !ok || src == nil {
		return
	}
	dst, _ := Lookup(m, ContainerdTable(3)...)
	d, ok := dst.(map[string]any)
	if !ok {
		d = map[string]any{}
	}
	for k, v := range src {
		switch k {
		case "snapshotter", "disable_snapshot_annotations", "discard_unpacked_layers":
			continue // moved to the image service plugin
		}
		if _, ok := d[k]; !ok {
			d[k] = v
		}
	}
	SetPath(m, ContainerdTable(3), d)
}

// Merged is the config containerd builds from the set.
func (s *Set) Merged() map[string]any {
	out := map[string]any{}
	for _, f := range s.Files {
		for k, v := range f.Data {
			if k == "plugins" {
				src, _ := v.(map[string]any)
				dst, ok := out["plugins"].(map[string]any)
				if !ok {
					dst = map[string]any{}
					out["plugins"] = dst
				}
				for name, sec := range src {
					if s.Version == 2 {
						dst[name] = deepCopy(sec) // 1.x: the whole section
					} else {
						mergeMap(dst, name, sec)
					}
				}
				continue
			}
			mergeStruct(out, k, v)
		}
	}
	// containerd 2.0-2.2 migrate the merged config when its version (the
	// last file's that has one) is older than 3.
	if v, _ := out["version"].(int64); s.Version >= 3 && v < 3 {
		migrate(out)
	}
	return out
}

// mergeMap is mergo's merge of a map entry with override: tables merge,
// anything else replaces.
func mergeMap(dst map[string]any, k string, v any) {
	if sm, ok := v.(map[string]any); ok {
		if dm, ok := dst[k].(map[string]any); ok {
			for kk, vv := range sm {
				mergeMap(dm, kk, vv)
			}
			return
		}
	}
	dst[k] = deepCopy(v)
}

// mergeStruct is mergo's merge of a struct field (containerd's own
// top-level settings): tables merge, arrays append, a value replaces
// unless it is empty.
func mergeStruct(dst map[string]any, k string, v any) {
	cur, exists := dst[k]
	switch sv := v.(type) {
	case map[string]any:
		if dm, ok := cur.(map[string]any); ok {
			for kk, vv := range sv {
				mergeStruct(dm, kk, vv)
			}
			return
		}
	case []any:
		if dv, ok := cur.([]any); ok {
			for _, e := range sv {
				if !slices.ContainsFunc(dv, func(x any) bool { return reflect.DeepEqual(x, e) }) {
					dv = append(dv, deepCopy(e))
				}
			}
			dst[k] = dv
			return
		}
	}
	if !exists || (v != nil && !reflect.ValueOf(v).IsZero()) {
		dst[k] = deepCopy(v)
	}
}

// Defining lists the files whose own data sets path.
func (s *Set) Defining(path ...string) []string {
	var out []string
	for _, f := range s.Files {
		if _, ok := Lookup(f.Data, path...); ok {
			out = append(out, f.Path)
		}
	}
	return out
}

// KeyOrder lists the keys of the table at path in the order the files
// write them.
func (s *Set) KeyOrder(path ...string) []string {
	var out []string
	for _, f := range s.Files {
		for _, k := range f.Keys {
			if len(k) == len(path)+1 && slices.Equal(k[:len(path)], path) && !slices.Contains(out, k[len(path)]) {
				out = append(out, k[len(path)])
			}
		}
	}
	return out
}

// Paths lists the files in load order.
func (s *Set) Paths() []string {
	var out []string
	for _, f := range s.Files {
		out = append(out, f.Path)
	}
	return out
}

// Lookup walks nested tables.
func Lookup(m map[string]any, path ...string) (any, bool) {
	var cur any = m
	for _, k := range path {
		t, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = t[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// SetPath sets a value, creating the tables on the way.
func SetPath(m map[string]any, path []string, v any) {
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
	}
	return v
}

// DeepCopy copies decoded TOML data.
func DeepCopy(m map[string]any) map[string]any { return deepCopy(m).(map[string]any) }
