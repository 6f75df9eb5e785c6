package record

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Recordings of pods land under the node's recordings_dir, in directories
// named after the pod. They are written by a walk that opens one path
// component at a time with O_NOFOLLOW: a symlink planted anywhere below
// recordings_dir (a subdirectory pointing at /etc, a profile name pointing
// at /etc/shadow) makes the write fail instead of landing where it points.
// recordings_dir itself comes from the node config and is followed.

// splitBeneath returns path's directory relative to root, and its name.
func splitBeneath(root, path string) (string, string, error) {
	rel, err := filepath.Rel(root, path)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, "../") || filepath.IsAbs(rel) {
		return "", "", fmt.Errorf("%s is not under %s", path, root)
	}
	return filepath.Dir(rel), filepath.Base(rel), nil
}

// openDirBeneath opens root/rel, making missing directories (0700) when
// create is set, without following a symlink below root.
func openDirBeneath(root, rel string, create bool) (int, error) {
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: root, Err: err}
	}
	cur := root
	for _, name := range strings.Split(rel, "/") {
		if name == "" || name == "." {
			continue
		}
		if name == ".." {
			unix.Close(fd)
			return -1, fmt.Errorf("%s: '..' in a recording path", filepath.Join(root, rel))
		}
		cur = filepath.Join(cur, name)
		if create {
			if err := unix.Mkdirat(fd, name, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
				unix.Close(fd)
				return -1, &os.PathError{Op: "mkdir", Path: cur, Err: err}
			}
		}
		next, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
				return -1, fmt.Errorf("%s: not a directory (a symlink?): recordings are written only into real directories under %s", cur, root)
			}
			return -1, &os.PathError{Op: "open", Path: cur, Err: err}
		}
		fd = next
	}
	return fd, nil
}

// openBeneath opens path (under root) with flags plus O_NOFOLLOW, making
// its directories.
func openBeneath(root, path string, flags int, perm uint32) (*os.File, error) {
	dir, name, err := splitBeneath(root, path)
	if err != nil {
		return nil, err
	}
	dfd, err := openDirBeneath(root, dir, true)
	if err != nil {
		return nil, err
	}
	defer unix.Close(dfd)
	fd, err := unix.Openat(dfd, name, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return nil, fmt.Errorf("%s is a symlink: secrun does not write recordings through symlinks", path)
		}
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// writeBeneath writes path (under root) whole: a new file renamed over it,
// so a symlink in its place is replaced, never followed.
func writeBeneath(root, path string, data []byte, perm uint32) error {
	dir, name, err := splitBeneath(root, path)
	if err != nil {
		return err
	}
	dfd, err := openDirBeneath(root, dir, true)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	tmp := "." + name + ".secrun-" + randomToken()[:8]
	fd, err := unix.Openat(dfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
	if err != nil {
		return &os.PathError{Op: "create", Path: filepath.Join(filepath.Dir(path), tmp), Err: err}
	}
	f := os.NewFile(uintptr(fd), tmp)
	_, err = f.Write(data)
	if err == nil {
		err = unix.Fchmod(fd, perm) // umask
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = unix.Renameat(dfd, tmp, dfd, name)
	}
	if err != nil {
		unix.Unlinkat(dfd, tmp, 0)
		return fmt.Errorf("write %s: %w", path, err)
	}
	unix.Fsync(dfd)
	return nil
}

// checkWritableBeneath is checkWritable for a path under root: it makes the
// directories and tries a temporary file there.
func checkWritableBeneath(root, path string) error {
	dir, name, err := splitBeneath(root, path)
	if err != nil {
		return err
	}
	dfd, err := openDirBeneath(root, dir, true)
	if err != nil {
		return fmt.Errorf("cannot write the profile to %s: %w", path, err)
	}
	defer unix.Close(dfd)
	tmp := "." + name + ".check-" + randomToken()[:8]
	fd, err := unix.Openat(dfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("cannot write the profile to %s: %w", path, err)
	}
	unix.Close(fd)
	return unix.Unlinkat(dfd, tmp, 0)
}
