package record

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestWriteBeneath(t *testing.T) {
	root, elsewhere := t.TempDir(), t.TempDir()
	out := filepath.Join(root, "ns", "pod", "web-rec.json")
	if err := writeBeneath(root, out, []byte("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(out); err != nil || string(data) != "one" {
		t.Fatalf("%q %v", data, err)
	}
	if fi, _ := os.Stat(filepath.Join(root, "ns")); fi.Mode().Perm() != 0o700 {
		t.Errorf("made directory mode %v", fi.Mode())
	}

	// A symlinked subdirectory does not redirect the write.
	os.Symlink(elsewhere, filepath.Join(root, "evil"))
	for _, p := range []string{filepath.Join(root, "evil", "pod", "x.json"), filepath.Join(root, "evil", "x.json")} {
		if err := writeBeneath(root, p, []byte("x"), 0o644); err == nil || !strings.Contains(err.Error(), "symlink") {
			t.Errorf("%s: %v", p, err)
		}
		if err := checkWritableBeneath(root, p); err == nil {
			t.Errorf("checkWritableBeneath %s: no error", p)
		}
	}
	if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
		t.Errorf("written through the symlink: %v", entries)
	}

	// A symlink in the file's place is replaced, not followed; a log
	// (opened to append) refuses it.
	target := filepath.Join(elsewhere, "shadow")
	os.WriteFile(target, []byte("secret"), 0o600)
	link := filepath.Join(root, "ns", "pod", "link.json")
	os.Symlink(target, link)
	if f, err := openBeneath(root, link, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); err == nil {
		f.Close()
		t.Error("log opened through a symlink")
	}
	if err := writeBeneath(root, link, []byte("profile"), 0o644); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(target); string(data) != "secret" {
		t.Errorf("target overwritten: %q", data)
	}
	if fi, err := os.Lstat(link); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("%s: %v %v", link, fi.Mode(), err)
	}

	for _, p := range []string{"/etc/x.json", filepath.Join(root, "..", "x.json"), root} {
		if err := writeBeneath(root, p, nil, 0o644); err == nil || !strings.Contains(err.Error(), "not under") {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// Prepare with a root refuses before starting any agent.
func TestPrepareRefusesSymlinkedDir(t *testing.T) {
	sockets := filepath.Join(t.TempDir(), "sockets")
	root, elsewhere := t.TempDir(), t.TempDir()
	os.Symlink(elsewhere, filepath.Join(root, "ns"))
	_, err := PrepareWith(&specs.Spec{Process: &specs.Process{}}, "c", filepath.Join(root, "ns", "pod", "c-x.json"), Options{SocketDir: sockets, Exe: os.Args[0], Root: root})
	if err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Fatalf("err = %v", err)
	}
	if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
		t.Errorf("written through the symlink: %v", entries)
	}
}
