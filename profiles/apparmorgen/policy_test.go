package apparmorgen

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// Every validation error names the file and the key.
func TestPolicyErrors(t *testing.T) {
	for _, tc := range []struct {
		name, file, data string
		want             []string // substrings of the error
	}{
		{"unknown top-level key", "p.toml", "name = \"a\"\nnmae = \"b\"\n", []string{"p.toml: ", `unknown key "nmae"`}},
		{"unknown nested key", "p.toml", "[filesystem]\nwriteable_paths = [\"/tmp\"]\n", []string{"p.toml: ", `unknown key "filesystem.writeable_paths"`}},
		{"unknown nested key yaml", "p.yaml", "network:\n  raw: false\n  udp: true\n", []string{"p.yaml: ", `unknown key "network.udp"`}},
		{"unknown key under capabilities", "p.yaml", "capabilities:\n  deny: [chown]\n", []string{"p.yaml: ", `unknown key "capabilities.deny"`}},
		{"relative path", "web.toml", "[filesystem]\nread_only_paths = [\"/etc\", \"etc/nginx\"]\n", []string{"web.toml: ", "filesystem.read_only_paths[1]", `"etc/nginx" is not absolute`}},
		{"relative path yaml", "web.yaml", "filesystem:\n  writable_paths: [tmp/**]\n", []string{"web.yaml: ", "filesystem.writable_paths[0]", "not absolute"}},
		{"dot-dot", "p.toml", "[filesystem]\nwritable_paths = [\"/tmp/../etc/**\"]\n", []string{"p.toml: ", "filesystem.writable_paths[0]", "'..'"}},
		{"unbalanced brace", "p.toml", "[filesystem]\nallowed_executables = [\"/usr/bin/{a,b\"]\n", []string{"p.toml: ", "filesystem.allowed_executables[0]", "'{' without '}'"}},
		{"single alternative", "p.toml", "[filesystem]\ndenied_executables = [\"/bin/{sh}\"]\n", []string{"p.toml: ", "filesystem.denied_executables[0]", "at least two alternatives"}},
		{"stray bracket", "p.toml", "[filesystem]\nread_only_paths = [\"/a]b\"]\n", []string{"p.toml: ", "']' without '['"}},
		{"newline in path", "p.yaml", "filesystem:\n  read_only_paths: [\"/a\\nb\"]\n", []string{"p.yaml: ", "control character"}},
		{"unknown variable", "p.toml", "[filesystem]\nread_only_paths = [\"/x/@{foo}\"]\n", []string{"p.toml: ", "unknown variable @{foo}"}},
		{"bad name", "p.toml", "name = \"my profile\"\n", []string{"p.toml: ", "name: ", `"my profile"`, "[A-Za-z0-9]"}},
		{"bad name leading dash", "p.yaml", "name: -x\n", []string{"p.yaml: ", "name: "}},
		{"reserved name", "p.yaml", "name: unconfined\n", []string{"p.yaml: ", "reserved"}},
		{"name not a string", "p.yaml", "name: 12\n", []string{"p.yaml: ", "name: must be a string, not a number"}},
		{"bad capability", "p.toml", "[capabilities]\nallow = [\"chown\", \"CAP_FLY\"]\n", []string{"p.toml: ", "capabilities.allow[1]", `unknown capability "CAP_FLY"`}},
		{"bad capability list form", "p.yaml", "capabilities: [net_bind_service, sys-admin]\n", []string{"p.yaml: ", "capabilities[1]", `"sys-admin"`}},
		{"bad protocol", "p.toml", "[network]\nprotocols = [\"tcp\", \"sctp\"]\n", []string{"p.toml: ", "network.protocols[1]", `"sctp"`}},
		{"raw not a bool", "p.yaml", "network:\n  raw: \"true\"\n", []string{"p.yaml: ", "network.raw: must be true or false, not a string"}},
		{"bad mode", "p.toml", "mode = \"learn\"\n", []string{"p.toml: ", "mode: ", `"learn"`}},
		{"paths not a list", "p.toml", "[filesystem]\nwritable_paths = \"/tmp\"\n", []string{"p.toml: ", "filesystem.writable_paths: must be a list of strings, not a string"}},
		{"null list", "p.yaml", "filesystem:\n  writable_paths:\n", []string{"p.yaml: ", "filesystem.writable_paths: has no value"}},
		{"filesystem not a table", "p.toml", "filesystem = [\"/tmp\"]\n", []string{"p.toml: ", "filesystem: must be a table"}},
		{"same path writable and read-only", "p.toml", "[filesystem]\nread_only_paths = [\"/data/**\"]\nwritable_paths = [\"/data/**\"]\n", []string{"p.toml: ", "filesystem.writable_paths", "also in filesystem.read_only_paths"}},
		{"same program allowed and denied", "p.yaml", "filesystem:\n  allowed_executables: [/bin/sh]\n  denied_executables: [/bin/sh]\n", []string{"p.yaml: ", "filesystem.allowed_executables", "also in filesystem.denied_executables"}},
		{"bad TOML", "p.toml", "name = \n", []string{"p.toml: ", "not valid TOML"}},
		{"bad YAML", "p.yaml", "name: [a\n", []string{"p.yaml: ", "not valid YAML"}},
		{"duplicate YAML key", "p.yaml", "name: a\nname: b\n", []string{"p.yaml: ", "not valid YAML"}},
		{"YAML list at top", "p.yaml", "- a\n", []string{"p.yaml: ", "top level must be a mapping"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePolicy(tc.file, []byte(tc.data))
			if err == nil {
				t.Fatal("accepted")
			}
			var pe *PolicyError
			if !errors.As(err, &pe) || pe.File != tc.file {
				t.Errorf("error %T does not carry the file: %v", err, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// All problems are reported at once, each line naming the file, in a
// stable order.
func TestPolicyErrorsAll(t *testing.T) {
	data := "zzz = 1\nname = \"a b\"\n[filesystem]\nread_only_paths = [\"x\"]\n[capabilities]\nallow = [\"nope\"]\n"
	_, err := ParsePolicy("all.toml", []byte(data))
	if err == nil {
		t.Fatal("accepted")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 4 {
		t.Fatalf("want 4 problems, got %q", lines)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "all.toml: ") {
			t.Errorf("line %q does not start with the file", l)
		}
	}
	_, err2 := ParsePolicy("all.toml", []byte(data))
	if err.Error() != err2.Error() {
		t.Error("error order is not stable")
	}
}

func TestPolicyParse(t *testing.T) {
	toml := `
name = "web"
mode = "complain"
capabilities = ["CAP_CHOWN", "setuid", "cap_setgid", "chown"]
[filesystem]
read_only_paths = ["/etc/**", "/etc/**"]
writable_paths = []
allowed_executables = ["/usr/sbin/nginx"]
[network]
raw = true
protocols = ["TCP", "udp", "tcp"]
`
	yaml := `
name: web
mode: complain
capabilities: {allow: [CAP_CHOWN, setuid, cap_setgid, chown]}
filesystem:
  read_only_paths: [/etc/**, /etc/**]
  writable_paths: []
  allowed_executables: [/usr/sbin/nginx]
network: {raw: true, protocols: [TCP, udp, tcp]}
`
	var got []*Policy
	for file, data := range map[string]string{"p.toml": toml, "p.yaml": yaml, "no-extension-toml": toml, "no-extension-yaml": yaml} {
		p, err := ParsePolicy(file, []byte(data))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		got = append(got, p)
	}
	p := got[0]
	if p.Name != "web" || p.Mode != "complain" || !p.Raw || p.Packet {
		t.Errorf("scalars: %+v", p)
	}
	if want := []string{"chown", "setuid", "setgid"}; !reflect.DeepEqual(p.Capabilities, want) {
		t.Errorf("capabilities %q, want %q", p.Capabilities, want)
	}
	if want := []string{"tcp", "udp"}; !reflect.DeepEqual(p.Protocols, want) {
		t.Errorf("protocols %q, want %q", p.Protocols, want)
	}
	if len(p.ReadOnlyPaths) != 1 || p.WritablePaths == nil || len(p.WritablePaths) != 0 || p.LogOnWritePaths != nil || p.AllowedExecutables == nil {
		t.Errorf("paths: %+v", p)
	}
	for _, q := range got[1:] {
		if !reflect.DeepEqual(p, q) {
			t.Errorf("formats disagree:\n%+v\n%+v", p, q)
		}
	}
}

// An empty policy is valid: name from --name, everything else defaults.
func TestPolicyEmpty(t *testing.T) {
	for _, file := range []string{"e.toml", "e.yaml"} {
		p, err := ParsePolicy(file, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(p, &Policy{}) {
			t.Errorf("%s: %+v", file, p)
		}
	}
}

func TestDetectFormat(t *testing.T) {
	for _, tc := range []struct {
		file, data string
		want       Format
	}{
		{"a.toml", "name: x", TOML},
		{"a.YML", "name = 'x'", YAML},
		{"a.json", `{"name": "x"}`, YAML},
		{"policy", "# c\n\nname = \"a:b\"\n", TOML},
		{"policy", "[filesystem]\n", TOML},
		{"policy", "name: \"a=b\"\n", YAML},
		{"policy", "---\nname: a\n", YAML},
		{"policy", "{\"name\": \"a\"}", YAML},
		{"policy", "", YAML},
	} {
		if got := DetectFormat(tc.file, []byte(tc.data)); got != tc.want {
			t.Errorf("DetectFormat(%q, %q) = %v, want %v", tc.file, tc.data, got, tc.want)
		}
	}
}
