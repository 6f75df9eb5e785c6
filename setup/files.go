package setup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/secrun/secrun/internal/atomicfile"
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

// writeAtomic replaces path with data, keeping the old file's mode and
// owner.
func writeAtomic(path string, data []byte, st fileState) error {
	if err := atomicfile.WriteAs(path, data, st.perm, st.uid, st.gid); err != nil {
		return fmt.Errorf("writing %s: %w", path, errors.Unwrap(err))
	}
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
