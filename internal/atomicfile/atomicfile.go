// Package atomicfile is the project's one atomic write: every file secrun
// rewrites (config.json, process files, containerd's config, profiles,
// recordings) goes through it.
package atomicfile

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Write replaces path with data: a temp file in the same directory, fsync,
// rename, then fsync of the directory, so a crash at any moment leaves
// either the old or the new file, never a torn one.
func Write(path string, data []byte, mode fs.FileMode) error {
	return WriteAs(path, data, mode, -1, -1)
}

// WriteAs is Write that also gives the file an owner (uid -1: the writer's),
// for files whose owner must survive the rewrite.
func WriteAs(path string, data []byte, mode fs.FileMode, uid, gid int) error {
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
	if uid >= 0 && (uid != os.Geteuid() || gid != os.Getegid()) {
		if err := tmp.Chown(uid, gid); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
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
