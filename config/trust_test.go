package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secrun/secrun/profiles"
)

const nobody = 65534

// trustDir is a fresh root-owned 0755 directory (t.TempDir is 0700).
func trustDir(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: files are chowned to another user")
	}
	d := t.TempDir()
	os.Chmod(d, 0o755)
	return d
}

func TestCheckTrusted(t *testing.T) {
	const cfg = "level = \"restricted\"\n"
	file := func(t *testing.T, dir string, mode os.FileMode, uid int) string {
		p := filepath.Join(dir, "config.toml")
		if err := os.WriteFile(p, []byte(cfg), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		os.Chown(p, uid, 0)
		return p
	}
	subdir := func(t *testing.T, mode os.FileMode, uid int) string {
		d := filepath.Join(trustDir(t), "d")
		os.Mkdir(d, 0o755)
		os.Chmod(d, mode)
		os.Chown(d, uid, 0)
		return d
	}
	cases := []struct {
		name string
		make func(t *testing.T) string
		want string // "" trusted
	}{
		{"root file", func(t *testing.T) string { return file(t, trustDir(t), 0o644, 0) }, ""},
		{"file owned by nobody", func(t *testing.T) string { return file(t, trustDir(t), 0o644, nobody) }, "fix: chown root"},
		{"file group-writable", func(t *testing.T) string { return file(t, trustDir(t), 0o664, 0) }, "fix: chmod go-w"},
		{"directory owned by nobody", func(t *testing.T) string { return file(t, subdir(t, 0o755, nobody), 0o644, 0) }, "directory"},
		{"directory writable by others", func(t *testing.T) string { return file(t, subdir(t, 0o777, 0), 0o644, 0) }, "chmod go-w"},
		{"directory writable by group", func(t *testing.T) string { return file(t, subdir(t, 0o775, 0), 0o644, 0) }, "chmod go-w"},
		{"sticky directory of nobody", func(t *testing.T) string { return file(t, subdir(t, os.ModeSticky|0o777, nobody), 0o644, 0) }, "owned by uid 65534"},
		// Others could have put a file there (a hard link to a root file)...
		{"root's file in a root sticky directory", func(t *testing.T) string { return file(t, subdir(t, os.ModeSticky|0o777, 0), 0o644, 0) }, "sticky directory"},
		// ...but can neither make, move nor remove root's directory there.
		{"root's directory in a root sticky directory", func(t *testing.T) string {
			d := filepath.Join(subdir(t, os.ModeSticky|0o777, 0), "root")
			os.Mkdir(d, 0o755)
			return file(t, d, 0o644, 0)
		}, ""},
		{"nobody's directory in a root sticky directory", func(t *testing.T) string {
			d := filepath.Join(subdir(t, os.ModeSticky|0o777, 0), "nobody")
			os.Mkdir(d, 0o755)
			os.Chown(d, nobody, 0)
			return file(t, d, 0o644, 0)
		}, "chown root"},
		{"root symlink in a root sticky directory", func(t *testing.T) string {
			real := file(t, trustDir(t), 0o644, 0)
			l := filepath.Join(subdir(t, os.ModeSticky|0o777, 0), "link.toml")
			os.Symlink(real, l)
			return l
		}, "sticky directory"},
		{"root symlink", func(t *testing.T) string {
			real := file(t, trustDir(t), 0o644, 0)
			l := filepath.Join(trustDir(t), "link.toml")
			os.Symlink(real, l)
			return l
		}, ""},
		{"symlink owned by nobody", func(t *testing.T) string {
			real := file(t, trustDir(t), 0o644, 0)
			l := filepath.Join(trustDir(t), "link.toml")
			os.Symlink(real, l)
			os.Lchown(l, nobody, 0)
			return l
		}, "chown -h root"},
		{"root symlink to a directory others can write", func(t *testing.T) string {
			real := file(t, subdir(t, 0o777, 0), 0o644, 0)
			l := filepath.Join(trustDir(t), "link")
			os.Symlink(filepath.Dir(real), l)
			return filepath.Join(l, "config.toml")
		}, "chmod go-w"},
		{"relative symlink to a nobody-owned file", func(t *testing.T) string {
			d := trustDir(t)
			file(t, d, 0o644, nobody)
			l := filepath.Join(d, "link.toml")
			os.Symlink("config.toml", l)
			return l
		}, "chown root"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.make(t)
			data, err := ReadTrusted(p)
			if tc.want == "" {
				if err != nil || string(data) != cfg {
					t.Fatalf("refused: %v", err)
				}
				if _, err := Load(p); err != nil {
					t.Fatalf("Load: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("err = %v, want one naming %s and %q", err, p, tc.want)
			}
			if _, err := Load(p); err == nil {
				t.Fatal("Load accepted it")
			}
		})
	}
	if _, err := ReadTrusted(filepath.Join(trustDir(t), "none.toml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
}

// A seccomp profile a pod picks from profiles_dir goes through the same check.
func TestProfileFileTrusted(t *testing.T) {
	dir := trustDir(t)
	prof := filepath.Join(dir, "tight.json")
	os.WriteFile(prof, []byte(`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}`), 0o644)
	c, err := Load(write(t, "profiles_dir = \""+dir+"\"\n", 0o644))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.PolicyFor(nil, map[string]string{AnnSeccompProfile: "tight"}); err != nil {
		t.Fatalf("root's profile: %v", err)
	}
	os.Chown(prof, nobody, 0)
	if _, _, err := c.PolicyFor(nil, map[string]string{AnnSeccompProfile: "tight"}); err == nil || !strings.Contains(err.Error(), "chown root") {
		t.Fatalf("nobody's profile: %v", err)
	}
	c, err = Load(write(t, "[seccomp]\nprofile = \""+prof+"\"\n", 0o644))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Policy(nil); err == nil || !strings.Contains(err.Error(), prof) {
		t.Fatalf("node profile owned by nobody: %v", err)
	}
}

// An AppArmor profile loaded from profiles_dir goes through the check too.
func TestAppArmorFileTrusted(t *testing.T) {
	dir := trustDir(t)
	host := t.TempDir()
	os.MkdirAll(filepath.Join(host, "sys/kernel/security/apparmor"), 0o755)
	os.WriteFile(filepath.Join(host, "sys/kernel/security/apparmor/profiles"), []byte("loaded (enforce)\n"), 0o644)
	aa := &profiles.AppArmorHost{Root: host, Parser: "/bin/true", KernelEnabled: func() bool { return true }}
	prof := filepath.Join(dir, "web")
	os.WriteFile(prof, []byte("profile web {}\n"), 0o644)
	if err := ensureAppArmor(aa, "web", dir); err != nil {
		t.Fatalf("root's profile: %v", err)
	}
	os.Chown(prof, nobody, 0)
	if err := ensureAppArmor(aa, "web", dir); err == nil || !strings.Contains(err.Error(), "chown root") || !strings.Contains(err.Error(), prof) {
		t.Fatalf("nobody's profile: %v", err)
	}
	// Already loaded: no file is read.
	if err := ensureAppArmor(aa, "loaded", dir); err != nil {
		t.Fatalf("loaded profile: %v", err)
	}
}
