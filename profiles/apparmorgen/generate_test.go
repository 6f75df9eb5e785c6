package apparmorgen

import (
	"strings"
	"testing"

	"github.com/secrun/secrun/profiles"
)

func mustPolicy(t *testing.T, file, data string) *Policy {
	t.Helper()
	p, err := ParsePolicy(file, []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if p.Name == "" {
		p.Name = "t" // as --name would
	}
	return p
}

func mustGenerate(t *testing.T, p *Policy) string {
	t.Helper()
	text, err := Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	return text
}

func rules(text string) map[string]bool {
	m := map[string]bool{}
	for _, l := range strings.Split(text, "\n") {
		m[strings.TrimSpace(l)] = true
	}
	return m
}

// The generated profile keeps every rule of the embedded default but the
// three blanket grants, in both modes.
func TestGenerateKeepsContainerDefaults(t *testing.T) {
	for _, mode := range []string{"enforce", "complain"} {
		p := &Policy{Name: "keep", Mode: mode}
		got := rules(mustGenerate(t, p))
		def := profiles.AppArmorDefault("keep", mode == "complain")
		_, head, body, err := splitDefault(def, "keep")
		if err != nil {
			t.Fatal(err)
		}
		if !got[strings.TrimSpace(head)] {
			t.Errorf("%s: profile line %q missing", mode, head)
		}
		kept := 0
		for _, l := range body {
			l = strings.TrimSpace(l)
			if l == "" || strings.HasPrefix(l, "#") && !strings.HasPrefix(l, "#include") {
				continue
			}
			if !got[l] {
				t.Errorf("%s: default rule %q missing", mode, l)
			}
			kept++
		}
		if kept < 20 {
			t.Errorf("%s: only %d default rules found; has the template changed shape?", mode, kept)
		}
		for _, l := range []string{"file,", "network,", "capability,"} {
			if got[l] {
				t.Errorf("%s: blanket %q kept", mode, l)
			}
		}
		for _, l := range []string{"abi <abi/3.0>,", "#include <tunables/global>", "#include <abstractions/base>"} {
			if !got[l] {
				t.Errorf("%s: %q missing", mode, l)
			}
		}
		// The semantics the generator promises, whatever the template's wording.
		deny := "deny"
		if mode == "complain" {
			deny = "audit deny"
		}
		for _, l := range []string{
			deny + " mount,",
			deny + " @{PROC}/sys/** wklx,",
			deny + " /sys/** wklx,",
			deny + " @{PROC}/sysrq-trigger rwklx,",
			deny + " @{PROC}/kcore rwklx,",
			"signal (send,receive) peer=keep,",
			"signal (receive) peer=unconfined,",
			"ptrace (trace,read,tracedby,readby) peer=keep,",
		} {
			if !got[l] {
				t.Errorf("%s: %q missing", mode, l)
			}
		}
	}
}

func TestGenerateHeader(t *testing.T) {
	text := mustGenerate(t, &Policy{Name: "web"})
	if !strings.Contains(text, "\nprofile web flags=(attach_disconnected,mediate_deleted) {\n") {
		t.Errorf("enforce header:\n%s", text)
	}
	text = mustGenerate(t, &Policy{Name: "web", Mode: "complain"})
	if !strings.Contains(text, "\nprofile web flags=(attach_disconnected,mediate_deleted,complain) {\n") {
		t.Errorf("complain header:\n%s", text)
	}
	if !strings.HasSuffix(text, "\n}\n") || strings.Count(text, "{\n") != 1 {
		t.Errorf("one profile block expected:\n%s", text)
	}
	if _, err := Generate(&Policy{}); err == nil {
		t.Error("no name accepted")
	}
	if _, err := Generate(&Policy{Name: "x", Mode: "learn"}); err == nil {
		t.Error("bad mode accepted")
	}
	// A Policy built by hand is checked too: nothing reaches the profile
	// unvalidated.
	for _, p := range []*Policy{
		{Name: "x", Capabilities: []string{"chown,\n  file"}},
		{Name: "x", Capabilities: []string{"CAP_CHOWN"}},
		{Name: "x", Protocols: []string{"sctp"}},
		{Name: "x y"},
	} {
		if text, err := Generate(p); err == nil {
			t.Errorf("%+v accepted:\n%s", p, text)
		}
	}
}

func TestGenerateFiles(t *testing.T) {
	// No writable_paths: writes anywhere but the read-only paths.
	got := rules(mustGenerate(t, mustPolicy(t, "p.toml", `
[filesystem]
read_only_paths = ["/etc/**", "/srv/my site/**"]
log_on_write_paths = ["/etc/passwd"]
`)))
	for _, l := range []string{`/ mrk,`, `/** mrk,`, `/ wl,`, `/** wl,`, `deny "/etc/**" wl,`, `deny "/srv/my site/**" wl,`, `audit "/etc/passwd" wl,`, `/** ix,`} {
		if !got[l] {
			t.Errorf("%q missing", l)
		}
	}
	// writable_paths present: only those, the audited ones and terminals.
	text := mustGenerate(t, mustPolicy(t, "p.yaml", "filesystem:\n  writable_paths: [/data/**]\n"))
	got = rules(text)
	if got[`/** wl,`] || got[`/ wl,`] || !got[`"/data/**" wl,`] || !got[`/dev/pts/[0-9]* rw,`] || !got[`/dev/tty rw,`] {
		t.Errorf("writable allowlist:\n%s", text)
	}
	// Present and empty: no write rule at all beyond the terminals.
	text = mustGenerate(t, mustPolicy(t, "p.yaml", "filesystem:\n  writable_paths: []\n"))
	if strings.Contains(text, " wl,") {
		t.Errorf("empty writable_paths still allows writes:\n%s", text)
	}
	// Complain mode: the policy's deny rules are audited.
	got = rules(mustGenerate(t, mustPolicy(t, "p.toml", "mode = \"complain\"\n[filesystem]\nread_only_paths = [\"/etc/**\"]\ndenied_executables = [\"/bin/sh\"]\n")))
	if !got[`audit deny "/etc/**" wl,`] || !got[`audit deny "/bin/sh" x,`] {
		t.Error("complain mode does not audit the policy's deny rules")
	}
}

// A pattern several entries expand to is written once per kind of rule.
func TestGenerateExpansionDedupe(t *testing.T) {
	text := mustGenerate(t, mustPolicy(t, "p.toml", "[filesystem]\nread_only_paths = [\"/{etc,srv}/**\", \"/etc/**\", \"/{,etc/**}\"]\n"))
	if n := strings.Count(text, `deny "/etc/**" wl,`); n != 1 {
		t.Errorf("/etc/** written %d times:\n%s", n, text)
	}
	if !strings.Contains(text, `deny "/srv/**" wl,`) || !strings.Contains(text, `deny "/" wl,`) {
		t.Errorf("expansions missing:\n%s", text)
	}
}

func TestGenerateExecutables(t *testing.T) {
	text := mustGenerate(t, mustPolicy(t, "p.toml", "[filesystem]\nallowed_executables = [\"/usr/sbin/nginx\", \"/bin/{,ba}sh\"]\ndenied_executables = [\"/usr/bin/curl\"]\n"))
	got := rules(text)
	if got[`/** ix,`] || !got[`"/usr/sbin/nginx" ix,`] || !got[`# /bin/{,ba}sh`] || !got[`"/bin/sh" ix,`] || !got[`"/bin/bash" ix,`] || !got[`deny "/usr/bin/curl" x,`] {
		t.Errorf("executables:\n%s", text)
	}
	text = mustGenerate(t, mustPolicy(t, "p.toml", "[filesystem]\nallowed_executables = []\n"))
	if strings.Contains(text, " ix,") {
		t.Errorf("empty allowed_executables still allows exec:\n%s", text)
	}
}

func TestGenerateNetwork(t *testing.T) {
	always := []string{"unix,", "network unix,", "network netlink dgram,", "network netlink raw,"}
	for _, tc := range []struct {
		policy  string
		want    []string
		wantNot []string
	}{
		{"", []string{"network inet stream,", "network inet6 stream,", "network inet dgram,", "network inet6 dgram,"},
			[]string{"network inet raw,", "network inet6 raw,", "network packet,", "network,", "network raw,"}},
		{"[network]\nprotocols = []\n", nil, []string{"network inet stream,", "network inet dgram,", "network inet raw,"}},
		{"[network]\nprotocols = [\"tcp\"]\n", []string{"network inet stream,", "network inet6 stream,"}, []string{"network inet dgram,"}},
		{"[network]\nprotocols = [\"icmp\"]\n", []string{"network inet dgram,", "network inet6 dgram,"}, []string{"network inet stream,", "network inet raw,"}},
		{"[network]\nraw = true\npacket = true\nprotocols = []\n", []string{"network inet raw,", "network inet6 raw,", "network packet,"}, []string{"network inet stream,"}},
	} {
		got := rules(mustGenerate(t, mustPolicy(t, "p.toml", "name = \"n\"\n"+tc.policy)))
		for _, l := range append(tc.want, always...) {
			if !got[l] {
				t.Errorf("%q: %q missing", tc.policy, l)
			}
		}
		for _, l := range tc.wantNot {
			if got[l] {
				t.Errorf("%q: %q present", tc.policy, l)
			}
		}
	}
}

func TestGenerateCapabilities(t *testing.T) {
	got := rules(mustGenerate(t, mustPolicy(t, "p.toml", "[capabilities]\nallow = [\"CAP_NET_BIND_SERVICE\", \"chown\"]\n")))
	if !got["capability net_bind_service chown,"] {
		t.Error("capability rule missing")
	}
	text := mustGenerate(t, mustPolicy(t, "p.toml", ""))
	if strings.Contains(text, "\n  capability") || !strings.Contains(text, "# Policy: no capabilities.") {
		t.Errorf("no capabilities expected:\n%s", text)
	}
}

// Every capability the project knows is one apparmor_parser knows.
func TestEveryCapabilityCompiles(t *testing.T) {
	parser := parserPath(t)
	p := &Policy{Name: "allcaps"}
	for _, c := range profiles.AllCaps() {
		p.Capabilities = append(p.Capabilities, strings.ToLower(strings.TrimPrefix(c, "CAP_")))
	}
	mustCompile(t, parser, "all capabilities", mustGenerate(t, p))
}
