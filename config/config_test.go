package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/secrun/secrun/profiles"
)

func write(t *testing.T, text string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(p, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, mode)
	return p
}

func TestMissingIsDefault(t *testing.T) {
	c, err := Load(filepath.Join(t.TempDir(), "none.toml"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Policy(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.CapAllow, profiles.BaselineCaps()) || !p.NoNewPrivileges || p.SeccompMode != "enforce" || p.OnViolation != "refuse" {
		t.Errorf("default policy = %+v", p)
	}
}

func TestFullConfig(t *testing.T) {
	path := write(t, `
runtime = ["crun", "runc"]
level = "restricted"
profiles_dir = "/etc/secrun/profiles"
no_new_privileges = true
[seccomp]
mode = "complain"
[capabilities]
allow = ["chown", "CAP_NET_BIND_SERVICE", "cap_kill"]
on_violation = "drop"
[apparmor]
profile = "secrun-default"
require = false
[log]
level = "debug"
`, 0o644)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Policy(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Runtime, Runtimes{"crun", "runc"}) || p.SeccompName != "restricted" || p.SeccompMode != "complain" ||
		!slices.Equal(p.CapAllow, []string{"CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_KILL"}) || p.OnViolation != "drop" {
		t.Errorf("config = %+v\npolicy = %+v", c, p)
	}
}

func TestBadConfigs(t *testing.T) {
	for name, tc := range map[string]struct {
		text string
		mode os.FileMode
		want string
	}{
		"group writable":  {`level = "restricted"`, 0o664, "chmod go-w"},
		"world writable":  {`level = "restricted"`, 0o646, "writable by group or others"},
		"syntax":          {"[seccomp\nmode = 1", 0o644, "config.toml"},
		"unknown key":     {"[seccomp]\nmdoe = \"enforce\"", 0o644, "unknown key seccomp.mdoe"},
		"bad mode":        {"[seccomp]\nmode = \"lenient\"", 0o644, `seccomp.mode = "lenient"`},
		"bad violation":   {"[capabilities]\non_violation = \"warn\"", 0o644, "on_violation"},
		"wrong type":      {"no_new_privileges = \"yes\"", 0o644, "no_new_privileges"},
		"runtime type":    {"runtime = 3", 0o644, "runtime"},
		"profile path":    {"[seccomp]\nprofile = \"../../etc/x\"", 0o644, "plain profile name"},
		"apparmor slash":  {"[apparmor]\nprofile = \"a/b\"", 0o644, "plain profile name"},
		"relative dir":    {"profiles_dir = \"profiles\"", 0o644, "absolute"},
		"unknown level":   {"level = \"lax\"", 0o644, "level = \"lax\""},
		"unknown cap":     {"[capabilities]\nallow = [\"CAP_FLY\"]", 0o644, "CAP_FLY"},
		"missing profile": {"[seccomp]\nprofile = \"nosuch\"", 0o644, "nosuch"},
	} {
		t.Run(name, func(t *testing.T) {
			path := write(t, tc.text, tc.mode)
			c, err := Load(path)
			if err == nil {
				_, err = c.Policy(nil)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("err = %v; want it to name %s and contain %q", err, path, tc.want)
			}
		})
	}
}

func TestProfileFromDir(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "web.json"), []byte(`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
		{"names":["read","write"],"action":"SCMP_ACT_ALLOW"},
		{"names":["mount"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_ADMIN"]}}]}`), 0o644)
	path := write(t, "profiles_dir = \""+dir+"\"\n[seccomp]\nprofile = \"web\"\n", 0o644)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Policy(nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.Seccomp(profiles.BaselineCaps())
	if err != nil {
		t.Fatal(err)
	}
	if !profiles.Permissive(profiles.Evaluate(s, "read", [6]uint64{})) || profiles.Permissive(profiles.Evaluate(s, "mount", [6]uint64{})) {
		t.Errorf("profile from dir resolved wrongly: %+v", s.Syscalls)
	}
	os.Chmod(filepath.Join(dir, "web.json"), 0o666)
	if _, err := c.Policy(nil); err == nil || !strings.Contains(err.Error(), "writable by group or others") {
		t.Errorf("a world-writable profile must be refused: %v", err)
	}
}

func TestRuntimeOnlySurvivesBrokenConfig(t *testing.T) {
	for name, tc := range map[string]struct {
		text string
		mode os.FileMode
		want Runtimes
	}{
		"valid list":       {`runtime = ["crun", "runc"]`, 0o644, Runtimes{"crun", "runc"}},
		"broken elsewhere": {"runtime = \"crun\"\n[seccomp\nmode=", 0o644, Runtimes{"crun"}},
		"unknown keys ok":  {"runtime = \"crun\"\nfoo = 1", 0o644, Runtimes{"crun"}},
		"runtime in table": {"[x\nruntime = \"crun\"", 0o644, Runtimes{"runc"}},
		"after a table":    {"[seccomp]\nruntime = \"crun\"\n[x", 0o644, Runtimes{"runc"}},
		"comments, broken": {"# node config\n\n# which runtime\nruntime = [\"crun\"] # fast\nlevel = \n", 0o644, Runtimes{"crun"}},
		"dotted key":       {"runtime.x = \"crun\"\n[", 0o644, Runtimes{"runc"}},
		// An admin's typo above the runtime key must not send state, kill
		// and delete to another runtime than created the container.
		"broken before":      {"# node config\nlevel = \"restricted\nruntime = \"/usr/bin/crun\"\n", 0o644, Runtimes{"/usr/bin/crun"}},
		"bad value before":   {"log_denials = yes\nruntime = \"/usr/bin/crun\"\n[seccomp]\nmode = \"enforce\"\n", 0o644, Runtimes{"/usr/bin/crun"}},
		"broken, list after": {"level = \"x\nruntime = [\"crun\", \"runc\"]\n", 0o644, Runtimes{"crun", "runc"}},
		"broken, in a table": {"level = \"x\n[seccomp]\nruntime = \"crun\"\n", 0o644, Runtimes{"runc"}},
		"untrusted":          {`runtime = "/tmp/evil"`, 0o666, Runtimes{"runc"}},
	} {
		t.Run(name, func(t *testing.T) {
			if got := RuntimeOnly(write(t, tc.text, tc.mode)); !slices.Equal(got, tc.want) {
				t.Errorf("RuntimeOnly = %v, want %v", got, tc.want)
			}
		})
	}
	if got := RuntimeOnly("/nonexistent/config.toml"); !slices.Equal(got, Runtimes{"runc"}) {
		t.Errorf("missing: %v", got)
	}
}

// The shipped example must stay loadable and mean the embedded default.
func TestShippedExampleIsTheDefault(t *testing.T) {
	// A copy: the checkout may belong to a user the trust check refuses.
	data, err := os.ReadFile("../deploy/config.toml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Load(write(t, string(data), 0o644))
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Policy(nil)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Default().Policy(nil)
	if !slices.Equal(got.CapAllow, want.CapAllow) || got.SeccompName != want.SeccompName || got.SeccompMode != want.SeccompMode ||
		got.NoNewPrivileges != want.NoNewPrivileges || got.OnViolation != want.OnViolation || got.AppArmor.Profile != want.AppArmor.Profile {
		t.Errorf("deploy/config.toml differs from the embedded default:\n%+v\n%+v", got, want)
	}
}

func TestNativeArchitectures(t *testing.T) {
	c, err := Load(write(t, "[seccomp]\narchitectures = \"native\"\n", 0o644))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := c.Policy(nil)
	s, err := p.Seccomp(profiles.BaselineCaps())
	if err != nil || len(s.Architectures) != 1 || s.Architectures[0] != "SCMP_ARCH_X86_64" {
		t.Errorf("architectures = %v, %v", s.Architectures, err)
	}
	if _, err := Load(write(t, "[seccomp]\narchitectures = \"x86\"\n", 0o644)); err == nil {
		t.Error("a bad value must be refused")
	}
}
