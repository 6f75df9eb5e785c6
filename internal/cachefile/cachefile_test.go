package cachefile

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// An entry decides how secrun reads a runtime's command line or which
// profile a container gets: one secrun did not write (another owner,
// writable by others, a link, in a directory others can write) is ignored,
// and a refused one is rewritten.
func TestTrust(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "features")
	Write(dir, "x", []byte("runc version 1.1.5"))
	if v, ok := Read(dir, "x"); !ok || string(v) != "runc version 1.1.5" {
		t.Fatalf("own entry: %q %v", v, ok)
	}
	entry := filepath.Join(dir, "x")
	os.Chmod(entry, 0o622)
	if _, ok := Read(dir, "x"); ok {
		t.Error("an entry others can write was trusted")
	}
	os.Chmod(entry, 0o600)
	os.Chmod(dir, 0o777)
	if _, ok := Read(dir, "x"); ok {
		t.Error("an entry in a directory others can write was trusted")
	}
	Write(dir, "z", []byte("planted?"))
	if _, err := os.Stat(filepath.Join(dir, "z")); err == nil {
		t.Error("written into a directory others can write")
	}
	os.Chmod(dir, 0o700)
	os.Symlink(entry, filepath.Join(dir, "y"))
	if _, ok := Read(dir, "y"); ok {
		t.Error("a symbolic link was trusted")
	}
	os.Mkdir(filepath.Join(dir, "d"), 0o700)
	if _, ok := Read(dir, "d"); ok {
		t.Error("a directory was trusted")
	}
	if os.Geteuid() == 0 {
		os.Chown(entry, 65534, 65534)
		if _, ok := Read(dir, "x"); ok {
			t.Error("an entry owned by another user was trusted")
		}
		Write(dir, "x", []byte("crun version 1.8.1"))
		if v, ok := Read(dir, "x"); !ok || string(v) != "crun version 1.8.1" {
			t.Errorf("rewritten entry: %q %v", v, ok)
		}
	}
}

// A directory past maxEntries is emptied before the next write.
func TestBounded(t *testing.T) {
	dir := t.TempDir()
	for i := range maxEntries + 10 {
		Write(dir, fmt.Sprint(i), []byte("x"))
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) > maxEntries {
		t.Errorf("%d entries, bound %d", len(entries), maxEntries)
	}
	if v, ok := Read(dir, fmt.Sprint(maxEntries+9)); !ok || string(v) != "x" {
		t.Error("the last entry written is missing")
	}
}

func TestName(t *testing.T) {
	if Name("a", "bc") == Name("ab", "c") {
		t.Error("parts run together")
	}
}
