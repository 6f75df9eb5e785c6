package regularfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// What the readers of secrun's decisive files rely on: the bytes of a
// regular file, never a link's target, never a wait on a FIFO, never more
// than the limit, and check run on the file that is read.
func TestRead(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	os.WriteFile(file, []byte("0123456789"), 0o600)

	data, fi, err := Read(file, 10, nil)
	if err != nil || string(data) != "0123456789" || fi.Size() != 10 {
		t.Fatalf("Read at the limit: %q, %v", data, err)
	}
	if _, fi, err := Read(file, 9, nil); !errors.Is(err, ErrTooLarge) || fi == nil || fi.Size() != 10 {
		t.Errorf("Read over the limit: %v", err)
	}

	link := filepath.Join(dir, "link")
	os.Symlink("/dev/zero", link)
	if _, _, err := Read(link, 10, nil); !errors.Is(err, syscall.ELOOP) {
		t.Errorf("a link to /dev/zero: %v, want ELOOP", err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Read(fifo, 10, nil); !errors.Is(err, ErrNotRegular) {
		t.Errorf("a FIFO: %v, want ErrNotRegular", err)
	}
	if _, _, err := Read(filepath.Join(dir, "missing"), 10, nil); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file: %v", err)
	}

	refused := errors.New("refused")
	called := 0
	_, _, err = Read(file, 10, func(fi fs.FileInfo) error {
		called++
		if fi.Size() != 10 || fi.Mode().Perm() != 0o600 {
			t.Errorf("check saw %v %d", fi.Mode(), fi.Size())
		}
		return refused
	})
	if called != 1 || !errors.Is(err, refused) {
		t.Errorf("check: called %d times, err %v", called, err)
	}
}
