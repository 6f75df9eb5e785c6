package profiles

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The embedded profile must compile with the real parser. -Q -K compiles
// without loading, so this runs on kernels without AppArmor too.
func TestAppArmorDefaultCompiles(t *testing.T) {
	parser, err := exec.LookPath("apparmor_parser")
	if err != nil {
		if os.Getenv("SECRUN_INTEGRATION") == "1" {
			t.Fatal("apparmor_parser not installed (script/install-deps.sh installs apparmor)")
		}
		t.Skip("apparmor_parser not installed")
	}
	for _, complain := range []bool{false, true} {
		text := AppArmorDefault(DefaultAppArmor, complain)
		cmd := exec.Command(parser, "-Q", "-K")
		cmd.Stdin = strings.NewReader(text)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("apparmor_parser -Q -K (complain=%v): %v\n%s\n%s", complain, err, out, text)
		}
	}
}

// fakeHost is a sysfs root with a profiles list and a stub parser that
// records what it was asked to load.
func fakeHost(t *testing.T, loaded string) (*AppArmorHost, string) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "sys/kernel/security/apparmor"), 0o755)
	os.WriteFile(filepath.Join(root, "sys/kernel/security/apparmor/profiles"), []byte(loaded), 0o644)
	record := filepath.Join(root, "loaded")
	parser := filepath.Join(root, "apparmor_parser")
	os.WriteFile(parser, []byte("#!/bin/sh\necho \"$@\" >> "+record+"\ncat >> "+record+"\n"), 0o755)
	return &AppArmorHost{Root: root, Parser: parser, KernelEnabled: func() bool { return true }}, record
}

func TestAppArmorEnsure(t *testing.T) {
	h, record := fakeHost(t, "docker-default (enforce)\nsecrun-default (enforce)\n")
	if !h.Supported() {
		t.Fatal("fake host should be supported")
	}
	if err := h.Ensure(DefaultAppArmor, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(record); err == nil {
		t.Error("a loaded profile was loaded again")
	}
	h, record = fakeHost(t, "docker-default (enforce)\n")
	if err := h.Ensure(DefaultAppArmor, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(record)
	if !strings.HasPrefix(string(got), "-Kr\n") || !strings.Contains(string(got), "profile secrun-default ") {
		t.Errorf("parser got %q", got)
	}
	if err := h.Ensure("custom", t.TempDir()); err == nil || !strings.Contains(err.Error(), "custom") {
		t.Errorf("missing custom profile: %v", err)
	}
	h.KernelEnabled = func() bool { return false }
	if h.Supported() {
		t.Error("kernel without AppArmor reported as supported")
	}
}
