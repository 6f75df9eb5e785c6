package apparmorgen

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"

	"github.com/secrun/secrun/profiles"
)

// Seeds beyond the examples: the shapes most likely to break profile
// syntax.
var fuzzSeeds = []struct {
	yaml bool
	data string
}{
	{false, ""},
	{true, ""},
	{false, "name = \"edge\"\nmode = \"complain\"\n[filesystem]\nread_only_paths = [\"/srv/my site/**\", \"/srv/a,b#c\"]\nwritable_paths = [\"/tmp/a b/{,**}\", \"/var/{log,cache}/x/[0-9]*\"]\nlog_on_write_paths = [\"/etc/pass wd\"]\nallowed_executables = []\ndenied_executables = [\"/bin/{,ba,da}sh\"]\n[network]\nraw = true\npacket = true\nprotocols = []\n[capabilities]\nallow = []\n"},
	{true, "name: edge2\nmode: enforce\nfilesystem:\n  read_only_paths: ['/srv/say \"hi\"', \"/srv/back\\\\slash\", '/srv/star\\*', '/x/[^-a-z.]?']\n  writable_paths: []\n  log_on_write_paths: ['@{PROC}/@{pid}/status', '/usr/lib/@{multiarch}/*.so*']\n  allowed_executables: ['/usr/sbin/nginx']\nnetwork: {protocols: [icmp]}\ncapabilities: [CAP_NET_RAW, chown]\n"},
	{false, "name = \"e3\"\n[filesystem]\nread_only_paths = [\"/x/{a,{b,{c,d}}}\", \"/données/été\", \"/a//b\", \"/srv/\\\\@{x,y}\", \"/srv/user@host\"]\n"},
	{true, "{\"name\": \"json\", \"filesystem\": {\"writable_paths\": [\"/data/**\"]}}"},
	{false, "name = \"caps\"\ncapabilities = [\"net_bind_service\", \"CAP_SYS_PTRACE\", \"cap_bpf\"]\n"},
}

// FuzzGenerate: whatever policy the generator accepts, apparmor_parser
// compiles what it generates.
func FuzzGenerate(f *testing.F) {
	files, _ := filepath.Glob("examples/*")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, DetectFormat(file, data) == YAML)
	}
	for _, s := range fuzzSeeds {
		f.Add([]byte(s.data), s.yaml)
	}
	parser := parserPath(f)
	// Profiles this worker has compiled already. A parser run costs ~50ms,
	// and many mutations (in comments, key order, duplicates) generate a
	// profile seen before.
	compiled := map[string]bool{}
	f.Fuzz(func(t *testing.T, data []byte, isYAML bool) {
		format := TOML
		if isYAML {
			format = YAML
		}
		p, err := ParsePolicyFormat("fuzz.policy", data, format)
		if err != nil {
			var pe *PolicyError
			if !errors.As(err, &pe) || len(pe.Problems) == 0 || !strings.HasPrefix(err.Error(), "fuzz.policy: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if p.Name == "" {
			p.Name = "fuzz" // as --name would
		}
		text, err := Generate(p)
		if err != nil {
			t.Fatalf("accepted policy does not generate: %v", err)
		}
		if again, _ := Generate(p); again != text {
			t.Fatal("Generate is not deterministic")
		}
		if compiled[text] {
			return
		}
		if out, err := compileText(parser, text); err != nil {
			t.Fatalf("apparmor_parser -Q -K: %v\n%s\n--- policy (yaml=%v) ---\n%s\n--- profile ---\n%s", err, out, isYAML, data, numbered(text))
		}
		compiled[text] = true
	})
}

// FuzzGlob aims at the pattern grammar directly: an accepted pattern
// compiles in every kind of rule the generator writes, and its canonical
// form parses back to itself.
func FuzzGlob(f *testing.F) {
	for _, g := range goodGlobs {
		f.Add(g.in)
	}
	for _, g := range badGlobs {
		f.Add(g.in)
	}
	parser := parserPath(f)
	f.Fuzz(func(t *testing.T, s string) {
		g, err := ParseGlob(s)
		if err != nil {
			return
		}
		// Each expanded pattern is canonical: it parses back to itself.
		for _, text := range g.texts {
			again, err := ParseGlob(text)
			if err != nil || len(again.texts) != 1 || again.texts[0] != text {
				t.Fatalf("pattern %q of %q does not parse back to itself: %v %q", text, s, err, again.texts)
			}
		}
		var rules strings.Builder
		for _, q := range g.Patterns() {
			for _, r := range []string{"%s mrk,", "%s wl,", "audit %s wl,", "deny %s wl,", "audit deny %s x,", "%s ix,"} {
				rules.WriteString("  " + strings.Replace(r, "%s", q, 1) + "\n")
			}
		}
		text := "abi <abi/3.0>,\n#include <tunables/global>\nprofile g {\n" + rules.String() + "}\n"
		if out, err := compileText(parser, text); err != nil {
			t.Fatalf("pattern %q: apparmor_parser -Q -K: %v\n%s\n%s", s, err, out, text)
		}
	})
}

// FuzzGeneratePolicy complements FuzzGenerate: mutating policy text mostly
// explores TOML and YAML syntax errors, and few mutants are valid policies
// with paths in them. Here the fuzzer mutates the fields of a policy (path
// lists one pattern a line), the patterns ParseGlob accepts are kept, and
// the policy is written out as TOML or JSON and read back through
// ParsePolicy, so that nearly every input becomes a profile of many path
// rules for apparmor_parser, where rules interact (its simplifier works on
// all of a profile's rules at once).
func FuzzGeneratePolicy(f *testing.F) {
	lines := func(gs []Glob) string {
		var raw []string
		for _, g := range gs {
			raw = append(raw, g.raw)
		}
		return strings.Join(raw, "\n")
	}
	for _, file := range exampleFiles(f) {
		data, _ := os.ReadFile(file)
		p, err := ParsePolicy(file, data)
		if err != nil {
			f.Fatal(err)
		}
		var protos uint8
		for i, proto := range protocols {
			if contains(p.Protocols, proto) {
				protos |= 1 << i
			}
		}
		f.Add(p.Name, p.Mode == "complain", lines(p.ReadOnlyPaths), lines(p.WritablePaths), lines(p.LogOnWritePaths),
			lines(p.AllowedExecutables), lines(p.DeniedExecutables), p.Raw, p.Packet, protos, strings.Join(p.Capabilities, "\n"), false)
	}
	f.Add("five", false, "/{,x}\n/{,y}\n/{,z}\n/{,w}\n/{,v}", "", "", "", "", false, false, uint8(7), "", true)
	f.Add("e", true, "/srv/my site/**\n/{,{,{,}}}\n/srv/\\@{x,y}", "/tmp/a b/{,**}\n@{PROC}/@{pid}/x", "/etc/pass wd", "/bin/{,ba,da}sh", "/usr/bin/[a-c]*", true, true, uint8(0), "chown\nCAP_NET_RAW", false)
	parser := parserPath(f)
	compiled := map[string]bool{}
	f.Fuzz(func(t *testing.T, name string, complain bool, readOnly, writable, logOnWrite, allowed, denied string, raw, packet bool, protos uint8, caps string, isYAML bool) {
		doc := map[string]any{}
		if ValidName(name) == nil {
			doc["name"] = name
		}
		if complain {
			doc["mode"] = "complain"
		}
		fs := map[string]any{}
		for key, list := range map[string]string{
			"read_only_paths": readOnly, "writable_paths": writable, "log_on_write_paths": logOnWrite,
			"allowed_executables": allowed, "denied_executables": denied,
		} {
			if list == "" {
				continue // absent
			}
			valid := []string{}
			for _, s := range strings.Split(list, "\n") {
				if _, err := ParseGlob(s); err == nil {
					valid = append(valid, s)
				}
			}
			fs[key] = valid
		}
		doc["filesystem"] = fs
		net := map[string]any{"raw": raw, "packet": packet}
		if protos&8 == 0 { // else absent: all three
			list := []string{}
			for i, proto := range protocols {
				if protos&(1<<i) != 0 {
					list = append(list, proto)
				}
			}
			net["protocols"] = list
		}
		doc["network"] = net
		var capList []string
		for _, c := range strings.Split(caps, "\n") {
			if _, err := profiles.CanonicalCap(c); err == nil && strings.TrimSpace(c) == c {
				capList = append(capList, c)
			}
		}
		doc["capabilities"] = map[string]any{"allow": append([]string{}, capList...)}

		var data []byte
		format := TOML
		if isYAML {
			format = YAML
			data, _ = json.Marshal(doc)
		} else {
			var b bytes.Buffer
			if err := toml.NewEncoder(&b).Encode(doc); err != nil {
				t.Fatal(err)
			}
			data = b.Bytes()
		}
		p, err := ParsePolicyFormat("fuzz.policy", data, format)
		if err != nil {
			// Only the same pattern on both sides of a conflict, or too
			// many patterns, may be refused here.
			if !strings.Contains(err.Error(), "is also in") && !strings.Contains(err.Error(), "expand to") {
				t.Fatalf("a policy of valid fields was refused: %v\n%s", err, data)
			}
			return
		}
		if p.Name == "" {
			p.Name = "fuzz"
		}
		text, err := Generate(p)
		if err != nil {
			t.Fatalf("accepted policy does not generate: %v", err)
		}
		if compiled[text] {
			return
		}
		if out, err := compileText(parser, text); err != nil {
			t.Fatalf("apparmor_parser -Q -K: %v\n%s\n--- policy ---\n%s\n--- profile ---\n%s", err, out, data, numbered(text))
		}
		compiled[text] = true
	})
}
