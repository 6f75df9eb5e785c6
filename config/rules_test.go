package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/secrun/secrun/profiles"
)

const rulesConfig = `
[[rules]]
name = "kube-proxy"
namespace = "kube-system"
container = "kube-proxy"
[rules.capabilities]
add = ["NET_ADMIN"]

[[rules]]
name = "all of kube-system"
namespace = "kube-system"
level = "restricted"

[[rules]]
name = "staging complain"
namespace = "staging-*"
type = "container"
[rules.seccomp]
mode = "complain"
`

func pod(ns, name, container, typ string) map[string]string {
	return map[string]string{AnnNamespace: ns, AnnPod: name, AnnContainer: container, AnnContainerType: typ}
}

func TestRules(t *testing.T) {
	c, err := Load(write(t, rulesConfig, 0o644))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		ann      map[string]string
		caps     []string
		mode     string
		ruleName string
	}{
		{pod("kube-system", "kube-proxy-x1", "kube-proxy", "container"), append(slices.Clone(profiles.BaselineCaps()), "CAP_NET_ADMIN"), "enforce", "kube-proxy"},
		{pod("kube-system", "coredns-1", "coredns", "container"), []string{"CAP_NET_BIND_SERVICE"}, "enforce", "all of kube-system"},
		{pod("staging-eu", "web", "web", "container"), profiles.BaselineCaps(), "complain", "staging complain"},
		{pod("staging-eu", "web", "", "sandbox"), profiles.BaselineCaps(), "enforce", "no rule"},
		{pod("default", "web", "web", "container"), profiles.BaselineCaps(), "enforce", "no rule"},
		{nil, profiles.BaselineCaps(), "enforce", "no rule"},
	}
	for _, tc := range cases {
		p, desc, err := c.PolicyFor(nil, tc.ann)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(p.CapAllow, tc.caps) || p.SeccompMode != tc.mode || !strings.Contains(desc, tc.ruleName) {
			t.Errorf("%v: caps %v mode %s (%s); want %v %s %s", tc.ann, p.CapAllow, p.SeccompMode, desc, tc.caps, tc.mode, tc.ruleName)
		}
	}
}

func TestBadRules(t *testing.T) {
	for text, want := range map[string]string{
		"[[rules]]\nnamespace = \"[\"":                         "bad pattern",
		"[[rules]]\ntype = \"pod\"":                            "type = \"pod\"",
		"[[rules]]\nlevel = \"open\"":                          "level = \"open\"",
		"[[rules]]\n[rules.seccomp]\nmode = \"x\"":             "seccomp.mode",
		"[[rules]]\nname = \"r\"\n[rules.capabilities]\nx = 1": "rules.capabilities.x",
	} {
		path := write(t, text, 0o644)
		if _, err := Load(path); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%q: err = %v, want %q", text, err, want)
		}
	}
}

func TestAnnotationPicksProfile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "tight.json"), []byte(`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","write","keyctl"],"action":"SCMP_ACT_ALLOW"}]}`), 0o644)
	c, err := Load(write(t, "profiles_dir = \""+dir+"\"\n", 0o644))
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := c.PolicyFor(nil, map[string]string{AnnSeccompProfile: "tight"})
	if err != nil || p.PodProfile == nil {
		t.Fatalf("pick: %v", err)
	}
	if _, _, err := c.PolicyFor(nil, map[string]string{AnnSeccompProfile: "restricted"}); err != nil {
		t.Errorf("a built-in level by name: %v", err)
	}
	for _, bad := range []string{"nosuch", "../tight", "/etc/passwd", ".hidden"} {
		if _, _, err := c.PolicyFor(nil, map[string]string{AnnSeccompProfile: bad}); err == nil || !strings.Contains(err.Error(), AnnSeccompProfile) {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}

// A rule whose match fields share a value checks every one of them: a
// container named web in another namespace does not get web's rule.
func TestRuleFieldsShareValue(t *testing.T) {
	c, err := Load(write(t, "[[rules]]\nname = \"web\"\nnamespace = \"web\"\ncontainer = \"web\"\n[rules.capabilities]\nadd = [\"CAP_NET_ADMIN\"]\n", 0o644))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ann  map[string]string
		want bool
	}{
		{pod("web", "p", "web", "container"), true},
		{pod("default", "p", "web", "container"), false},
		{pod("web", "p", "db", "container"), false},
		{map[string]string{AnnContainer: "web"}, false},
	} {
		p, _, err := c.PolicyFor(nil, tc.ann)
		if err != nil {
			t.Fatal(err)
		}
		if got := slices.Contains(p.CapAllow, "CAP_NET_ADMIN"); got != tc.want {
			t.Errorf("%v: CAP_NET_ADMIN allowed = %v, want %v", tc.ann, got, tc.want)
		}
	}
}

// A rule that loosens must name a namespace: the other match fields are
// chosen by pod authors.
func TestLooseningRuleNeedsNamespace(t *testing.T) {
	refused := map[string]string{
		"container = \"web\"\n[rules.capabilities]\nadd = [\"CAP_NET_ADMIN\"]":                "allows capabilities CAP_NET_ADMIN",
		"namespace = \"*\"\ncontainer = \"web\"\n[rules.capabilities]\nadd = [\"NET_ADMIN\"]": "matches every namespace",
		"namespace = \"[a-z]*\"\nno_new_privileges = false":                                   "no_new_privileges = false",
		"image = \"docker.io/x/*\"\n[rules.seccomp]\nmode = \"complain\"":                     "seccomp mode \"complain\"",
		"pod = \"p\"\n[rules.seccomp]\nprofile = \"mine\"":                                    "seccomp profile to \"mine\"",
		"pod = \"p\"\n[rules.apparmor]\nprofile = \"unconfined\"":                             "AppArmor profile to \"unconfined\"",
		"pod = \"p\"\n[rules.podsecurity]\nallow = [\"host-network\"]":                        "exempts podsecurity checks host-network",
		"pod = \"p\"\n[rules.podsecurity]\nlevel = \"off\"":                                   "podsecurity.level to \"off\"",
		"pod = \"p\"\n[rules.podsecurity]\nmode = \"warn\"":                                   "podsecurity.mode \"warn\"",
		"pod = \"p\"\n[rules.annotations]\nallow = [\"run.oci.keep_original_groups\"]":        "allows annotations run.oci.keep_original_groups",
		"pod = \"p\"\n[rules.capabilities]\nallow = [\"CAP_CHOWN\", \"CAP_SYS_PTRACE\"]":      "allows capabilities CAP_SYS_PTRACE",
	}
	for body, want := range refused {
		path := write(t, "[[rules]]\n"+body+"\n", 0o644)
		_, err := Load(path)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "must also name a namespace") || !strings.Contains(err.Error(), path) {
			t.Errorf("%q: err = %v, want %q", body, err, want)
		}
	}
	allowed := []string{
		"namespace = \"kube-system\"\ncontainer = \"kube-proxy\"\n[rules.capabilities]\nadd = [\"CAP_NET_ADMIN\"]",
		"namespace = \"kube-*\"\n[rules.podsecurity]\nallow = [\"host-network\"]",
		// Tightening needs no namespace.
		"container = \"web\"\nlevel = \"restricted\"",
		"pod = \"p\"\n[rules.capabilities]\nallow = [\"CAP_CHOWN\"]\non_violation = \"drop\"",
		"image = \"x\"\n[rules.podsecurity]\nlevel = \"restricted\"",
	}
	for _, body := range allowed {
		if _, err := Load(write(t, "[[rules]]\n"+body+"\n", 0o644)); err != nil {
			t.Errorf("%q: %v", body, err)
		}
	}
	// Against a restricted node, runtime-default is a looser level.
	if _, err := Load(write(t, "level = \"restricted\"\n[[rules]]\ncontainer = \"c\"\nlevel = \"runtime-default\"\n", 0o644)); err == nil || !strings.Contains(err.Error(), "lowers the level") {
		t.Errorf("looser level: %v", err)
	}
}
