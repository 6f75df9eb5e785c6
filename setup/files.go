package setup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

const backupSuffix = ".secrun-backup"

// fileState is a file's content and metadata as read before any change.
type fileState struct {
	exists   bool
	text     string
	perm     os.FileMode
	uid, gid int
}

func readState(path string) (fileState, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return fileState{perm: 0o644, uid: -1, gid: -1}, nil
	}
	if err != nil {
		return fileState{}, fmt.Errorf("reading %s: %w", path, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fileState{}, fmt.Errorf("reading %s: %v", path, err)
	}
	st := fileState{exists: true, text: string(b), perm: fi.Mode().Perm(), uid: -1, gid: -1}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.uid, st.gid = int(sys.Uid), int(sys.Gid)
	}
	return st, nil
}

// writeAtomic replaces path with data: a temporary file in the same
// directory, written, synced, given the old file's mode and owner, then
// renamed over path; the directory is synced after.
func writeAtomic(path string, data []byte, st fileState) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".secrun-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
			err = fmt.Errorf("writing %s: %w", path, err)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(st.perm); err != nil {
		return err
	}
	if st.uid >= 0 && (st.uid != os.Geteuid() || st.gid != os.Getegid()) {
		if err = f.Chown(st.uid, st.gid); err != nil {
			return err
		}
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	syncDir(dir)
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

func removeFile(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing %s: %w", path, err)
	}
	syncDir(filepath.Dir(path))
	return nil
}
