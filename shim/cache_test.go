package shim

import (
	"os"
	"path/filepath"
	"testing"
)

// A cache entry decides how secrun reads the runtime's command line: one
// secrun did not write (another owner, writable by others, a link) is
// ignored, and a corrupt one is rewritten.
func TestCacheTrust(t *testing.T) {
	old := featuresCache
	defer func() { featuresCache = old }()
	featuresCache = filepath.Join(t.TempDir(), "features")
	entry := filepath.Join(featuresCache, "x.version")
	writeCache(entry, "runc version 1.1.5")
	if v, ok := readCache(entry); !ok || v != "runc version 1.1.5" {
		t.Fatalf("own entry: %q %v", v, ok)
	}
	os.Chmod(entry, 0o622)
	if _, ok := readCache(entry); ok {
		t.Error("an entry others can write was trusted")
	}
	os.Chmod(entry, 0o600)
	os.Chmod(featuresCache, 0o777)
	if _, ok := readCache(entry); ok {
		t.Error("an entry in a directory others can write was trusted")
	}
	os.Chmod(featuresCache, 0o700)
	link := filepath.Join(featuresCache, "y.version")
	os.Symlink(entry, link)
	if _, ok := readCache(link); ok {
		t.Error("a symbolic link was trusted")
	}
	if os.Geteuid() == 0 {
		os.Chown(entry, 65534, 65534)
		if _, ok := readCache(entry); ok {
			t.Error("an entry owned by another user was trusted")
		}
		writeCache(entry, "crun version 1.8.1")
		if v, ok := readCache(entry); !ok || v != "crun version 1.8.1" {
			t.Errorf("rewritten entry: %q %v", v, ok)
		}
	}
}
