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

// Write replaces path with data durably: a temp file in the same
// directory, fsync, rename, then fsync of the directory, so a crash at any
// moment leaves either the old or the new file, never a torn one. On tmpfs
// the fsyncs are skipped (nothing survives a crash there).
func Write(path string, data []byte, mode fs.FileMode) error {
	return write(path, data, mode, -1, -1, !onTmpfs(filepath.Dir(path)))
}

// WriteAs is Write that also gives the file an owner (uid -1: the writer's),
// for files whose owner must survive the rewrite.
func WriteAs(path string, data []byte, mode fs.FileMode, uid, gid int) error {
	return write(path, data, mode, uid, gid, !onTmpfs(filepath.Dir(path)))
}

// Replace swaps path for data atomically, without fsync: for files that
// mean nothing after a reboot, such as a bundle's config.json (the runtime
// reads it at once, from the page cache, and a crash kills the container
// anyway) or a cache entry. Every reader, and SIGKILL at any moment, still
// sees the old file or the new one; after a power loss the file may be
// empty, which every reader refuses. On a node whose /run is not tmpfs
// this saves two fsyncs per file on the create path.
func Replace(path string, data []byte, mode fs.FileMode) error {
	return write(path, data, mode, -1, -1, false)
}

func write(path string, data []byte, mode fs.FileMode, uid, gid int, durable bool) error {
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

// onTmpfs: where fsync buys nothing (the rename alone makes the swap atomic
// for every reader and against SIGKILL).
func onTmpfs(dir string) bool {
	var st unix.Statfs_t
	return unix.Statfs(dir, &st) == nil && st.Type == unix.TMPFS_MAGIC
}
