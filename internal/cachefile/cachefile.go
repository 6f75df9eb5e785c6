// Package cachefile keeps facts secrun derived and can derive again (how a
// runtime binary reads its command line, Docker's profile resolved for a
// capability set) in files under /run/secrun, so that the create path reads
// a few bytes instead of running a runtime or resolving a profile.
//
// An entry is trusted only as secrun wrote it: a regular file owned by
// secrun's user that nobody else can write, in a directory of the same
// kind. Anything else is ignored and written anew. A missing or refused
// entry costs the derivation, never correctness.
package cachefile

import (
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/secrun/secrun/internal/regularfile"

	"github.com/secrun/secrun/internal/atomicfile"
)

// Dir holds secrun's caches: tmpfs on a node, so emptied at boot.
const Dir = "/run/secrun"

// maxSize bounds what Read accepts: entries are a few KB.
const maxSize = 1 << 20

// maxEntries bounds a cache directory: past it, Write empties it first
// (entries for replaced binaries and kernels are never read again).
const maxEntries = 256

// Name is an entry's file name for a key: a hash of the key's parts. Keep
// the whole key in the entry too when a collision would matter.
func Name(parts ...string) string {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return fmt.Sprintf("%016x", h.Sum64())
}

// FileID is what changes when the file at path is replaced or rewritten:
// device, inode, size, mtime and ctime (following symlinks).
func FileID(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	id := fmt.Sprintf("%s %d %d", path, fi.Size(), fi.ModTime().UnixNano())
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id += fmt.Sprintf(" %d %d %d.%d", st.Dev, st.Ino, st.Ctim.Sec, st.Ctim.Nsec)
	}
	return id, nil
}

// Read returns the entry dir/name if secrun wrote it.
func Read(dir, name string) ([]byte, bool) {
	ours := func(fi fs.FileInfo) error {
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok || int(st.Uid) != os.Geteuid() || fi.Mode().Perm()&0o022 != 0 {
			return fs.ErrPermission
		}
		return nil
	}
	if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() || ours(fi) != nil {
		return nil, false
	}
	data, _, err := regularfile.Read(filepath.Join(dir, name), maxSize, ours)
	return data, err == nil
}

// Write stores an entry, best effort: a failure only costs the derivation
// next time. It writes nothing into a directory Read would not trust.
func Write(dir, name string, data []byte) {
	if os.MkdirAll(dir, 0o700) != nil {
		return
	}
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() || fi.Mode().Perm()&0o022 != 0 {
		return
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != os.Geteuid() {
		return
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) >= maxEntries {
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), ".") {
				os.Remove(filepath.Join(dir, e.Name()))
			}
		}
	}
	atomicfile.Replace(filepath.Join(dir, name), data, 0o600)
}
