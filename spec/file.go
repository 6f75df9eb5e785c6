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
	raw  object
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

func readFile(path string) (*File, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: does not exist", path)
		}
		return nil, err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("%s: is a symbolic link; secrun rewrites only regular files so it cannot be steered to write elsewhere (replace the link with the file it points to)", path)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: is not a regular file", path)
	}
	if fi.Size() > MaxSize {
		return nil, fmt.Errorf("%s: is %d bytes, over secrun's limit of %d bytes for a spec file", path, fi.Size(), MaxSize)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%s: grew over secrun's limit of %d bytes while being read", path, MaxSize)
	}
	doc, err := parseFile(path, data)
	if err != nil {
		return nil, err
	}
	doc.mode = fi.Mode().Perm()
	return doc, nil
}

func parseFile(path string, data []byte) (*File, error) {
	raw, err := decodeObject(data, path)
	if err != nil {
		return nil, err
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	return &File{
		Path: path, Orig: data, mode: 0o644, raw: raw,
		indent: len(trimmed) > 1 && bytes.ContainsAny(trimmed[1:min(len(trimmed), 64)], "\n"),
	}, nil
}

// LoadConfig reads a bundle's spec: dir/config.json unless path names
// another file (crun's --config).
func LoadConfig(dir, path string) (*Config, error) {
	if fi, err := os.Lstat(dir); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("bundle %s: is a symbolic link; pass the directory it points to (a link can be swapped between secrun's write and the runtime's read)", dir)
	}
	if fi, err := os.Stat(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("bundle %s: does not exist", dir)
		}
		return nil, fmt.Errorf("bundle %s: %w", dir, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("bundle %s: is not a directory", dir)
	}
	if path == "" {
		path = filepath.Join(dir, "config.json")
	}
	f, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return configFrom(f)
}

// ParseConfig parses a spec document held in memory; path names it in errors.
func ParseConfig(path string, data []byte) (*Config, error) {
	f, err := parseFile(path, data)
	if err != nil {
		return nil, err
	}
	return configFrom(f)
}

func configFrom(f *File) (*Config, error) {
	if err := checkOwnedNames(f); err != nil {
		return nil, err
	}
	var s specs.Spec
	if err := json.Unmarshal(f.Orig, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", f.Path, describeJSONError(f.Orig, err))
	}
	if s.Process == nil {
		return nil, fmt.Errorf("%s: has no \"process\" section; a container needs one (see `runc spec`)", f.Path)
	}
	return &Config{File: *f, Spec: &s}, nil
}

// LoadProcess reads a process file as written for `runc exec --process`.
func LoadProcess(path string) (*Process, error) {
	f, err := readFile(path)
	if err != nil {
		return nil, err
	}
	if err := exactNames(f.raw, path, processOwned...); err != nil {
		return nil, err
	}
	var p specs.Process
	if err := json.Unmarshal(f.Orig, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", f.Path, describeJSONError(f.Orig, err))
	}
	return &Process{File: *f, Process: &p}, nil
}

var processOwned = []string{"capabilities", "noNewPrivileges", "apparmorProfile"}

// checkOwnedNames checks the objects whose fields secrun reads or rewrites
// for keys that the decoders would read differently.
func checkOwnedNames(f *File) error {
	if err := exactNames(f.raw, f.Path, "process", "linux", "annotations", "ociVersion"); err != nil {
		return err
	}
	proc, err := f.raw.child("process")
	if err != nil {
		return fmt.Errorf("%s: %w", f.Path, err)
	}
	if err := exactNames(proc, f.Path+": process", processOwned...); err != nil {
		return err
	}
	linux, err := f.raw.child("linux")
	if err != nil {
		return fmt.Errorf("%s: %w", f.Path, err)
	}
	// Annotations drive rules and are rewritten: same checks.
	if _, err := f.raw.child("annotations"); err != nil {
		return fmt.Errorf("%s: annotations: %w", f.Path, err)
	}
	return exactNames(linux, f.Path+": linux", "seccomp")
}

// processFields stores the process fields a policy owns into o.
func processFields(o object, p *specs.Process) error {
	if err := o.set("capabilities", p.Capabilities); err != nil {
		return err
	}
	if err := o.set("noNewPrivileges", p.NoNewPrivileges); err != nil {
		return err
	}
	return o.set("apparmorProfile", p.ApparmorProfile)
}

// Encode returns the document with the owned fields taken from c.Spec.
func (c *Config) Encode() ([]byte, error) {
	proc, err := c.raw.child("process")
	if err != nil {
		return nil, err
	}
	if err := processFields(proc, c.Spec.Process); err != nil {
		return nil, err
	}
	if err := c.raw.set("process", proc); err != nil {
		return nil, err
	}
	if v, ok := c.Spec.Annotations[AnnPolicy]; ok {
		ann, err := c.raw.child("annotations")
		if err != nil {
			return nil, err
		}
		if err := ann.set(AnnPolicy, v); err != nil {
			return nil, err
		}
		if err := c.raw.set("annotations", ann); err != nil {
			return nil, err
		}
	}
	if c.Spec.Linux != nil {
		linux, err := c.raw.child("linux")
		if err != nil {
			return nil, err
		}
		if err := linux.set("seccomp", c.Spec.Linux.Seccomp); err != nil {
			return nil, err
		}
		if len(linux) > 0 || c.raw["linux"] != nil {
			if err := c.raw.set("linux", linux); err != nil {
				return nil, err
			}
		}
	}
	return c.raw.encode(c.indent)
}

// Encode returns the process document with the owned fields from p.Process.
func (p *Process) Encode() ([]byte, error) {
	if err := processFields(p.raw, p.Process); err != nil {
		return nil, err
	}
	return p.raw.encode(p.indent)
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
