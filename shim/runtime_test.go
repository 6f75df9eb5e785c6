package shim

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func TestFindRuntimeSkipsItself(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	a, b := t.TempDir(), t.TempDir()
	// a/runc is secrun itself (as when secrun is installed as "runc").
	if err := os.Symlink(self, filepath.Join(a, "runc")); err != nil {
		t.Fatal(err)
	}
	real := filepath.Join(b, "runc")
	os.WriteFile(real, []byte("#!/bin/sh\n"), 0o755)
	t.Setenv("PATH", a+":"+b)
	got, err := findRuntime([]string{"runc"})
	if err != nil || got != real {
		t.Fatalf("findRuntime = %q, %v; want %q", got, err, real)
	}
	if _, err := findRuntime([]string{filepath.Join(a, "runc")}); err == nil {
		t.Fatal("a path that is secrun itself must not be chosen")
	}
	// A list is tried in turn.
	got, err = findRuntime([]string{"/nonexistent/crun", "runc"})
	if err != nil || got != real {
		t.Fatalf("list: %q, %v", got, err)
	}
}

func TestReentryGuard(t *testing.T) {
	t.Setenv(guardEnv, "1")
	if reentered() && os.Getpid() != 1 {
		t.Fatal("another PID in the guard is not a loop")
	}
	t.Setenv(guardEnv, strconv.Itoa(os.Getpid()))
	if !reentered() {
		t.Fatal("our own PID in the guard is a loop")
	}
}
