package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// MaxSize bounds what is read: real configs are tens of KB, and a runaway
// file must not make every container start on the node slow or OOM.
const MaxSize = 16 << 20

// File is a spec document on disk: config.json of a bundle, or the process
// file of `runc exec --process`.
type File struct {
	Path string
	Orig []byte // bytes as read, for no-op detection
	mode fs.FileMode
	// top is the top-level object, with the members Encode edits.
	top *span
	// indent records whether the original was pretty-printed.
	indent bool
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

func readFile(path string) ([]byte, fs.FileMode, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, 0, fmt.Errorf("%s: does not exist", path)
		}
		return nil, 0, err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return nil, 0, fmt.Errorf("%s: is a symbolic link; secrun rewrites only regular files so it cannot be steered to write elsewhere (replace the link with the file it points to)", path)
	}
	if !fi.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("%s: is not a regular file", path)
	}
	if fi.Size() > MaxSize {
		return nil, 0, fmt.Errorf("%s: is %d bytes, over secrun's limit of %d bytes for a spec file", path, fi.Size(), MaxSize)
	}
	// O_NOFOLLOW: a link swapped in since the Lstat is not followed.
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	// Sized from the Lstat, the buffer takes the file in one read and sees
	// EOF in the next, where growing from 512 bytes took a read and a copy
	// per doubling.
	buf := bytes.NewBuffer(make([]byte, 0, fi.Size()+bytes.MinRead))
	if _, err := buf.ReadFrom(io.LimitReader(f, MaxSize+1)); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	if buf.Len() > MaxSize {
		return nil, 0, fmt.Errorf("%s: grew over secrun's limit of %d bytes while being read", path, MaxSize)
	}
	return buf.Bytes(), fi.Mode().Perm(), nil
}

// parseFile decodes data into v (a typed decoding, which also checks the
// syntax; v nil: only the syntax is checked), then scans it once for
// ambiguous keys and for the spans of the objects named in keep.
func parseFile(path string, data []byte, mode fs.FileMode, v any, keep ...string) (File, error) {
	if v == nil && !json.Valid(data) {
		v = new(view) // for the decoder's description of what is wrong
	}
	if v != nil {
		if err := json.Unmarshal(data, v); err != nil {
			return File{}, fmt.Errorf("%s: %w", path, describeJSONError(data, err))
		}
	}
	top, err := scan(data, keep...)
	if err != nil {
		return File{}, fmt.Errorf("%s: %w", path, err)
	}
	if top == nil {
		kind := map[byte]string{'[': "a JSON array", '"': "a JSON string", 't': "a JSON bool", 'f': "a JSON bool", 'n': "JSON null"}[bytes.TrimLeft(data, " \t\r\n")[0]]
		if kind == "" {
			kind = "a JSON number"
		}
		return File{}, fmt.Errorf("%s: is %s, expected an object", path, kind)
	}
	// Pretty-printed: the first key (or the closing brace) starts a line.
	end := top.close
	if len(top.members) > 0 {
		end = top.members[0].keyStart
	}
	return File{
		Path: path, Orig: data, mode: mode, top: top,
		indent: bytes.IndexByte(data[top.open:end], '\n') >= 0,
	}, nil
}

// child returns the span of the top-level object under name, nil when it is
// absent or null.
func (f *File) child(name string) *span {
	if i := f.top.find(name); i >= 0 {
		return f.top.members[i].obj
	}
	return nil
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

func parseConfig(path string, data []byte, mode fs.FileMode) (*Config, error) {
	f, err := parseFile(path, data, mode, nil, "process", "process.user", "linux", "linux.resources", "annotations")
	if err != nil {
		return nil, err
	}
	var v view
	if err := decodeView(data, f.top.open, &v); err != nil {
		return nil, fmt.Errorf("%s: %w", path, describeJSONError(data, err))
	}
	c := &Config{File: f, Spec: v.spec()}
	if err := checkReadNames(&c.File); err != nil {
		return nil, err
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
	p := &Process{Process: &specs.Process{}}
	if p.File, err = parseFile(path, data, mode, p.Process); err != nil {
		return nil, err
	}
	if err := exactNames(p.top, path, "", processOwned...); err != nil {
		return nil, err
	}
	return p, nil
}

var processOwned = []string{"capabilities", "noNewPrivileges", "apparmorProfile"}

// checkReadNames checks the objects whose fields secrun reads or rewrites
// for keys that the decoders would read differently. (Ambiguous keys in any
// object were refused by the scan.)
func checkReadNames(f *File) error {
	for _, where := range []string{"", "process", "process.user", "linux", "linux.resources", "annotations"} {
		if err := exactNames(f.at(where), f.Path, where, readNames[where]...); err != nil {
			return err
		}
	}
	return nil
}

// at returns the kept object at a dotted path ("" is the top), nil when
// it is absent or null.
func (f *File) at(path string) *span {
	o := f.top
	for _, k := range strings.Split(path, ".") {
		if k == "" || o == nil {
			continue
		}
		i := o.find(k)
		if i < 0 {
			return nil
		}
		o = o.members[i].obj
	}
	return o
}

// processChanges are the process fields a policy owns.
func processChanges(p *specs.Process) ([]change, error) {
	caps, err := setTo("capabilities", p.Capabilities)
	if err != nil {
		return nil, err
	}
	nnp, err := setTo("noNewPrivileges", p.NoNewPrivileges)
	if err != nil {
		return nil, err
	}
	aa, err := setTo("apparmorProfile", p.ApparmorProfile)
	if err != nil {
		return nil, err
	}
	return []change{caps, nnp, aa}, nil
}

// Encode returns the document with the owned fields taken from c.Spec:
// Orig itself (do not modify it) when they are already what it holds.
func (c *Config) Encode() ([]byte, error) {
	if c.Spec == nil || c.Spec.Process == nil {
		return nil, fmt.Errorf("%s: spec has no process", c.Path)
	}
	proc, err := processChanges(c.Spec.Process)
	if err != nil {
		return nil, err
	}
	cs := []change{{name: "process", obj: true, create: true, sub: proc}}
	if v, ok := c.Spec.Annotations[AnnPolicy]; ok {
		ann, err := setTo(AnnPolicy, v)
		if err != nil {
			return nil, err
		}
		cs = append(cs, change{name: "annotations", obj: true, create: true, sub: []change{ann}})
	}
	if c.Spec.Linux != nil {
		sc, err := setTo("seccomp", c.Spec.Linux.Seccomp)
		if err != nil {
			return nil, err
		}
		// An absent linux is added only to hold a profile.
		cs = append(cs, change{name: "linux", obj: true, sub: []change{sc}})
	}
	return c.splice(cs)
}

// Encode returns the process document with the owned fields from p.Process.
func (p *Process) Encode() ([]byte, error) {
	if p.Process == nil {
		return nil, fmt.Errorf("%s: no process", p.Path)
	}
	cs, err := processChanges(p.Process)
	if err != nil {
		return nil, err
	}
	return p.splice(cs)
}

func (f *File) splice(cs []change) ([]byte, error) {
	if f.top == nil {
		return nil, fmt.Errorf("%s: not loaded by this package", f.Path)
	}
	s := newSplicer(f.Orig, f.top, f.indent)
	if err := s.object(f.top, cs); err != nil {
		return nil, fmt.Errorf("%s: %w", f.Path, err)
	}
	return s.result()
}

// Save writes data over f atomically unless it equals what was read.
// It reports whether the file changed.
func (f *File) Save(data []byte) (bool, error) {
	if bytes.Equal(data, f.Orig) {
		return false, nil
	}
	return true, WriteAtomic(f.Path, data, f.mode)
}

// WriteAtomic replaces path with data: a temp file in the same directory,
// fsync, rename, then fsync of the directory, so a crash at any moment leaves
// either the old or the new file, never a torn one.
func WriteAtomic(path string, data []byte, mode fs.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".secrun-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	durable := !onTmpfs(dir)
	if durable {
		if err := tmp.Sync(); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	done = true
	if !durable {
		return nil
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// onTmpfs: containerd's bundles live on tmpfs under /run, where fsync buys
// nothing (the rename alone makes the swap atomic for every reader and
// against SIGKILL) and a disk's fsync would cost milliseconds per create.
func onTmpfs(dir string) bool {
	var st unix.Statfs_t
	return unix.Statfs(dir, &st) == nil && st.Type == unix.TMPFS_MAGIC
}
