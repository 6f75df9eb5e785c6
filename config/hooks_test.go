package config

import (
	"slices"
	"strings"
	"testing"
)

func TestHooksAllow(t *testing.T) {
	c, err := Load(write(t, "recordings_dir = \"/srv/rec\"\n[podsecurity]\nhooks_allow = [\"/usr/bin/nvidia-ctk\", \"/usr/bin/dockerd\"]\n", 0o644))
	if err != nil {
		t.Fatal(err)
	}
	// A rule keeps the node's list (it may allow the "hooks" check, not add hooks).
	c.Rules = []Rule{{Name: "gpu", Namespace: "ml"}}
	eff, _ := c.For(map[string]string{AnnNamespace: "ml"})
	p, err := eff.Policy(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.PodSecurity.HooksAllow, []string{"/usr/bin/nvidia-ctk", "/usr/bin/dockerd"}) {
		t.Errorf("hooks_allow = %v", p.PodSecurity.HooksAllow)
	}
	// secrun's own directories are host paths no container may mount.
	for _, d := range []string{"/etc/secrun", "/etc/secrun/profiles", "/srv/rec"} {
		if !slices.Contains(p.PodSecurity.HostDirs, d) {
			t.Errorf("HostDirs %v lacks %s", p.PodSecurity.HostDirs, d)
		}
	}
	for _, bad := range []struct{ text, want string }{
		{"[podsecurity]\nhooks_allow = [\"nvidia-ctk\"]\n", "must be an absolute, clean path"},
		{"[podsecurity]\nhooks_allow = [\"/usr/bin/../bin/x\"]\n", "must be an absolute, clean path"},
		{"[podsecurity]\nhooks_allow = [\"/usr/bin/\"]\n", "must be an absolute, clean path"},
		{"[[rules]]\nname = \"x\"\n[rules.podsecurity]\nhooks_allow = [\"/usr/bin/x\"]\n", "node-wide only"},
		{"[podsecurity]\nallow = [\"hook\"]\n", "unknown check"},
	} {
		if _, err := Load(write(t, bad.text, 0o644)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: err = %v, want %q", bad.text, err, bad.want)
		}
	}
	if _, err := Load(write(t, "[podsecurity]\nallow = [\"hooks\", \"host-mount\"]\n", 0o644)); err != nil {
		t.Errorf("new check names: %v", err)
	}
}
