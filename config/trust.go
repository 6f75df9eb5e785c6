package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/secrun/secrun/internal/regularfile"
)

// The node config, the profiles in profiles_dir and the AppArmor files
// there decide how every container on the node is confined: whoever can
// write one of them, or replace it by writing a directory above it or a
// symlink on the way, controls them all. As sshd's StrictModes and sudo
// do, secrun trusts such a file only when it and every directory up to /
// are owned by root (or by the user running secrun) and writable by no
// one else, and every symlink on the way is owned by root (or that user).
//
// A sticky directory such as /tmp counts as writable by others, with one
// exception: a root-owned sticky directory on the way to a root-owned
// directory (/tmp/secrun-test/config.toml). Others can neither rename nor
// remove a directory they do not own there, nor hard-link one; a file
// directly in it is refused (they may have put it there, as a hard link
// to some root-owned file).

// maxTrustedSize bounds a policy file.
const maxTrustedSize = 4 << 20

// ReadTrusted reads a node-admin file after CheckTrusted. A missing file
// is an error wrapping fs.ErrNotExist.
func ReadTrusted(path string) ([]byte, error) {
	real, err := CheckTrusted(path)
	if err != nil {
		return nil, err
	}
	data, _, err := regularfile.Read(real, maxTrustedSize, func(fi fs.FileInfo) error { return trustedFile(path, fi) })
	if errors.Is(err, regularfile.ErrTooLarge) {
		// trustedFile bounded the size: the file grew while being read.
		return nil, fmt.Errorf("%s: over %d bytes, too large for a policy file", path, maxTrustedSize)
	}
	return data, err
}

// CheckTrusted checks path and everything that leads to it, and returns
// the file's real path (symlinks resolved).
func CheckTrusted(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	rootInfo, err := os.Lstat("/")
	if err != nil {
		return "", err
	}
	sticky, err := trustedDir(path, "/", rootInfo)
	if err != nil {
		return "", err
	}
	cur := "/"
	rest := strings.Split(strings.TrimPrefix(filepath.Clean(abs), "/"), "/")
	for links := 0; len(rest) > 0; {
		name := rest[0]
		rest = rest[1:]
		if name == "" || name == "." {
			continue
		}
		if name == ".." {
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, name)
		fi, err := os.Lstat(next)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return "", fmt.Errorf("%s: %w", path, err)
			}
			return "", err
		}
		if sticky && !fi.IsDir() {
			return "", fmt.Errorf("%s: %s is directly in %s, a sticky directory others can write: they may have put it there (a hard link, a symlink), so secrun refuses it (fix: move it into a directory only root can write, e.g. chmod go-w its directory)", path, next, cur)
		}
		sticky = false
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			if uid := owner(fi); !trustedOwner(uid) {
				return "", fmt.Errorf("%s: reached through the symlink %s, owned by uid %d: whoever owns it can point it anywhere, so secrun refuses it (fix: chown -h root %s, or name the file by its real path)", path, next, uid, next)
			}
			if links++; links > 40 {
				return "", fmt.Errorf("%s: too many levels of symlinks", path)
			}
			target, err := os.Readlink(next)
			if err != nil {
				return "", err
			}
			if filepath.IsAbs(target) {
				cur = "/"
			}
			rest = append(strings.Split(target, "/"), rest...)
			continue
		case len(rest) > 0:
			if !fi.IsDir() {
				return "", fmt.Errorf("%s: %s is not a directory", path, next)
			}
			if sticky, err = trustedDir(path, next, fi); err != nil {
				return "", err
			}
		default:
			if err := trustedFile(path, fi); err != nil {
				return "", err
			}
		}
		cur = next
	}
	return cur, nil
}

func owner(fi fs.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}

// trustedOwner: root, or the user running secrun (rootless use).
func trustedOwner(uid int) bool { return uid == 0 || uid == os.Geteuid() }

// trustedDir checks a directory on the way; sticky reports the exception
// above (a root-owned sticky directory that others can write). fi is the
// directory's Lstat, taken once by the walk.
func trustedDir(path, dir string, fi fs.FileInfo) (sticky bool, err error) {
	uid := owner(fi)
	if !trustedOwner(uid) {
		return false, fmt.Errorf("%s: the directory %s is owned by uid %d: its owner can replace the file, which controls the containers on this node, so secrun refuses it (fix: chown root %s)", path, dir, uid, dir)
	}
	m := fi.Mode()
	if m.Perm()&0o022 == 0 {
		return false, nil
	}
	if m&fs.ModeSticky != 0 && uid == 0 {
		return true, nil
	}
	return false, fmt.Errorf("%s: the directory %s is writable by group or others (mode %04o): they can replace the file, which controls the containers on this node, so secrun refuses it (fix: chmod go-w %s)", path, dir, m.Perm(), dir)
}

func trustedFile(path string, fi fs.FileInfo) error {
	if fi.IsDir() {
		return fmt.Errorf("%s: is a directory, expected a file", path)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: is not a regular file", path)
	}
	if uid := owner(fi); !trustedOwner(uid) {
		return fmt.Errorf("%s: is owned by uid %d: whoever owns it controls every container on this node, so secrun refuses it (fix: chown root %s)", path, uid, path)
	}
	if m := fi.Mode().Perm(); m&0o022 != 0 {
		return fmt.Errorf("%s: is writable by group or others (mode %04o); whoever can write it controls every container on this node, so secrun refuses it (fix: chmod go-w %s)", path, m, path)
	}
	if fi.Size() > maxTrustedSize {
		return fmt.Errorf("%s: is %d bytes, too large for a policy file", path, fi.Size())
	}
	return nil
}
