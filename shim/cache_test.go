package shim

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/secrun/secrun/internal/cachefile"
)

// A fact about a runtime binary is derived once per binary: a new binary
// at the same path derives it again, and an entry that is not a valid
// value is derived again and rewritten. (Entries secrun did not write:
// internal/cachefile's tests.)
func TestRuntimeFact(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "runc")
	os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755)
	valid := func(v string) bool { return v == "a" || v == "b" }
	derived := 0
	derive := func(v string) func() string { return func() string { derived++; return v } }
	f := runtimeFacts{dir: filepath.Join(t.TempDir(), "cache")}
	runtimeFact := f.fact

	if v := runtimeFact(bin, "test", valid, derive("a")); v != "a" || derived != 1 {
		t.Fatalf("first look-up: %q, derived %d times", v, derived)
	}
	if v := runtimeFact(bin, "test", valid, derive("b")); v != "a" || derived != 1 {
		t.Fatalf("second look-up: %q, derived %d times; want the cached a", v, derived)
	}
	// A new binary at the same path.
	time.Sleep(10 * time.Millisecond)
	os.WriteFile(bin+".new", []byte("#!/bin/sh\n# another build\n"), 0o755)
	os.Rename(bin+".new", bin)
	if v := runtimeFact(bin, "test", valid, derive("b")); v != "b" || derived != 2 {
		t.Fatalf("new binary: %q, derived %d times; want b derived afresh", v, derived)
	}
	// A corrupt entry.
	id, _ := cachefile.FileID(bin)
	entry := filepath.Join(f.dir, cachefile.Name(id, "test"))
	if err := os.WriteFile(entry, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if v := runtimeFact(bin, "test", valid, derive("a")); v != "a" || derived != 3 {
		t.Fatalf("corrupt entry: %q, derived %d times", v, derived)
	}
	if data, _ := os.ReadFile(entry); string(data) != "a" {
		t.Errorf("corrupt entry not rewritten: %q", data)
	}
}
