package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

// Both writes leave exactly the new content with the asked mode, and no
// temporary file beside it.
func TestWriteAndReplace(t *testing.T) {
	for name, write := range map[string]func(string, []byte, os.FileMode) error{"Write": Write, "Replace": Replace} {
		dir := t.TempDir()
		path := filepath.Join(dir, "config.json")
		os.WriteFile(path, []byte("old"), 0o644)
		if err := write(path, []byte("new"), 0o640); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if data, _ := os.ReadFile(path); string(data) != "new" {
			t.Errorf("%s: content %q", name, data)
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
			t.Errorf("%s: mode %v", name, fi.Mode().Perm())
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("%s: %d files in the directory, want 1", name, len(entries))
		}
		// A failed write (the directory is gone) reports the path.
		if err := write(filepath.Join(dir, "missing", "x"), []byte("x"), 0o600); err == nil {
			t.Errorf("%s: no error for a missing directory", name)
		}
	}
}
