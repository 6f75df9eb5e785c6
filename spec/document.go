package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"

	"github.com/go-json-experiment/json"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/secrun/secrun/internal/atomicfile"
)

// File is a spec document on disk: a bundle's config.json, or the process
// file of `runc exec --process`.
type File struct {
	Path string
	Orig []byte // bytes as read
	mode fs.FileMode
}

// Config is a bundle's config.json.
type Config struct {
	File
	Spec *specs.Spec
}

// Process is a process file given to `exec --process`.
type Process struct {
	File
	Process *specs.Process
}

// LoadConfig reads a bundle's spec: dir/config.json unless path names
// another file (crun's --config).
func LoadConfig(dir, path string) (*Config, error) {
	// Not a link, so one Lstat tells what a Stat would.
	if fi, err := os.Lstat(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("bundle %s: does not exist", dir)
		}
		return nil, fmt.Errorf("bundle %s: %w", dir, err)
	} else if fi.Mode()&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("bundle %s: is a symbolic link; pass the directory it points to (a link can be swapped between secrun's write and the runtime's read)", dir)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("bundle %s: is not a directory", dir)
	}
	if path == "" {
		path = filepath.Join(dir, "config.json")
	}
	data, mode, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return parseConfig(path, data, mode)
}

// ParseConfig parses a spec document held in memory; path names it in errors.
func ParseConfig(path string, data []byte) (*Config, error) {
	return parseConfig(path, data, 0o644)
}

var specType = reflect.TypeFor[specs.Spec]()

func parseConfig(path string, data []byte, mode fs.FileMode) (*Config, error) {
	c := &Config{File: File{Path: path, Orig: data, mode: mode}, Spec: &specs.Spec{}}
	if err := decode(data, c.Spec); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if c.Spec.Process == nil {
		return nil, fmt.Errorf("%s: has no \"process\" section; a container needs one (see `runc spec`)", path)
	}
	return c, nil
}

// LoadProcess reads a process file as written for `runc exec --process`.
func LoadProcess(path string) (*Process, error) {
	data, mode, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return parseProcess(path, data, mode)
}

// ParseProcess parses a process document held in memory; path names it in errors.
func ParseProcess(path string, data []byte) (*Process, error) {
	return parseProcess(path, data, 0o600)
}

func parseProcess(path string, data []byte, mode fs.FileMode) (*Process, error) {
	p := &Process{File: File{Path: path, Orig: data, mode: mode}, Process: &specs.Process{}}
	if err := decode(data, p.Process); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// decode checks that data has one reading (strict.go) and decodes it into
// v, a pointer to a runtime-spec type, with encoding/json v2's rules: exact
// names, no duplicates, valid UTF-8, integers in range.
func decode(data []byte, v any) error { return decodeAs(data, v, reflect.TypeOf(v).Elem()) }

func decodeAs(data []byte, v any, schema reflect.Type) error {
	if first := bytes.TrimLeft(data, " \t\r\n"); len(first) == 0 || first[0] != '{' {
		if json.Unmarshal(data, new(any)) != nil {
			return describe(data, json.Unmarshal(data, new(any)))
		}
		return fmt.Errorf("is %s, expected an object", kindName(first[0]))
	}
	if err := checkOneReading(data, schema); err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return describe(data, err)
	}
	return nil
}

func kindName(c byte) string {
	switch c {
	case '[':
		return "a JSON array"
	case '"':
		return "a JSON string"
	case 't', 'f':
		return "a JSON bool"
	case 'n':
		return "JSON null"
	}
	return "a JSON number"
}

// Encode returns the document the runtime will read: the members the policy
// owns taken from c.Spec, everything else as it was read, in one canonical
// spelling (canonical.go).
func (c *Config) Encode() ([]byte, error) {
	s := c.Spec
	if s == nil || s.Process == nil {
		return nil, fmt.Errorf("%s: spec has no process", c.Path)
	}
	es := []edit{{name: "process", sub: processEdits(s.Process)}}
	if v, ok := s.Annotations[AnnPolicy]; ok {
		es = append(es, edit{name: "annotations", sub: []edit{{name: AnnPolicy, value: v}}})
	}
	if s.Linux != nil && s.Linux.Seccomp != nil {
		es = append(es, edit{name: "linux", sub: []edit{{name: "seccomp", value: s.Linux.Seccomp}}})
	}
	out, err := rewrite(c.Orig, es)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Path, err)
	}
	return out, nil
}

// Encode returns the process document with the owned fields from p.Process.
func (p *Process) Encode() ([]byte, error) {
	if p.Process == nil {
		return nil, fmt.Errorf("%s: no process", p.Path)
	}
	out, err := rewrite(p.Orig, processEdits(p.Process))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.Path, err)
	}
	return out, nil
}

// processEdits are the process members a policy owns.
func processEdits(p *specs.Process) []edit {
	es := []edit{
		{name: "noNewPrivileges", value: p.NoNewPrivileges},
		{name: "apparmorProfile", value: p.ApparmorProfile},
	}
	if p.Capabilities != nil {
		es = append(es, edit{name: "capabilities", value: p.Capabilities})
	}
	return es
}

// Mode is the file's permission bits as read (a file parsed from memory:
// the default its kind is written with).
func (f *File) Mode() fs.FileMode { return f.mode }

// Save writes data over f atomically unless it equals what was read.
// It reports whether the file changed. A spec or process file is read by
// the runtime at once and means nothing after a reboot: atomic, not
// durable (atomicfile.Replace).
func (f *File) Save(data []byte) (bool, error) {
	if bytes.Equal(data, f.Orig) {
		return false, nil
	}
	return true, atomicfile.Replace(f.Path, data, f.mode)
}
