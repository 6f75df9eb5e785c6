package spec

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/secrun/secrun/profiles"
)

func policy(level string) *Policy {
	l := profiles.LevelNamed(level)
	return &Policy{
		Source: "test.toml", CapAllow: l.Caps, OnViolation: "refuse", NoNewPrivileges: true,
		SeccompMode: "enforce", SeccompName: level, Seccomp: l.Seccomp,
		AppArmor: AppArmorPolicy{Profile: "secrun-default"},
	}
}

// dockerSpec is a spec as containerd writes it for a default pod: the 14
// stock capabilities, no seccomp, plus fields specs-go does not know.
const dockerSpec = `{"ociVersion":"1.1.0","x-vendor":{"keep":[1,2,3]},"process":{"user":{"uid":4294967295,"gid":0},"args":["sh"],"cwd":"/","x-proc":"a<b>&c",
"capabilities":{"bounding":STOCK,"effective":STOCK,"permitted":STOCK}},
"root":{"path":"rootfs"},"annotations":{"io.kubernetes.cri.container-type":"container","html":"<&>"},
"linux":{"namespaces":[{"type":"pid"}],"x-linux":{"n":1.50},"maskedPaths":["/proc/kcore"]}}`

func writeBundle(t *testing.T, doc string) string {
	t.Helper()
	stock, _ := json.Marshal(profiles.StockCaps())
	doc = strings.ReplaceAll(doc, "STOCK", string(stock))
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(doc), 0o640); err != nil {
		t.Fatal(err)
	}
	return dir
}

func apply(t *testing.T, dir string, p *Policy) ([]byte, []Change) {
	t.Helper()
	c, err := LoadConfig(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	changes, err := p.ApplyConfig(c.Spec)
	if err != nil {
		t.Fatal(err)
	}
	data, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Save(data); err != nil {
		t.Fatal(err)
	}
	return data, changes
}

func TestUnknownFieldsSurvive(t *testing.T) {
	dir := writeBundle(t, dockerSpec)
	out, _ := apply(t, dir, policy(profiles.RuntimeDefault))
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	proc := doc["process"].(map[string]any)
	linux := doc["linux"].(map[string]any)
	checks := map[string]bool{
		"top-level unknown":    doc["x-vendor"] != nil,
		"process unknown":      proc["x-proc"] == "a<b>&c",
		"linux unknown number": linux["x-linux"].(map[string]any)["n"].(json.Number) == "1.50",
		"large uid exact":      proc["user"].(map[string]any)["uid"].(json.Number) == "4294967295",
		"annotations":          doc["annotations"].(map[string]any)["html"] == "<&>",
		"masked paths":         len(linux["maskedPaths"].([]any)) == 1,
		"seccomp added":        linux["seccomp"] != nil,
		"no-new-privileges":    proc["noNewPrivileges"] == true,
	}
	for what, ok := range checks {
		if !ok {
			t.Errorf("%s: lost or wrong in %s", what, out)
		}
	}
	if !bytes.Contains(out, []byte(`"a<b>&c"`)) {
		t.Error("HTML characters were escaped in a field secrun does not own")
	}
	if fi, _ := os.Stat(filepath.Join(dir, "config.json")); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode changed to %v", fi.Mode())
	}
}

func TestIdempotent(t *testing.T) {
	runcSpec, _ := os.ReadFile("testdata/runc-spec.json")
	userProfile := `{"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"/","capabilities":{"bounding":["CAP_KILL"]}},"root":{"path":"rootfs"},
"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],"syscalls":[{"names":["read","write","keyctl","clone3","personality","exit_group"],"action":"SCMP_ACT_ALLOW"}]}}}`
	blocklist := `{"process":{"args":["sh"],"cwd":"/"},"root":{"path":"rootfs"},
"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}}}`
	for name, doc := range map[string]string{"docker": dockerSpec, "runc spec": string(runcSpec), "user profile": userProfile, "blocklist": blocklist} {
		for _, level := range profiles.LevelNames() {
			for _, mode := range []string{"enforce", "complain"} {
				t.Run(name+"/"+level+"/"+mode, func(t *testing.T) {
					p := policy(level)
					p.SeccompMode = mode
					dir := writeBundle(t, doc)
					first, _ := apply(t, dir, p)
					st1, _ := os.Stat(filepath.Join(dir, "config.json"))
					second, changes := apply(t, dir, p)
					if !bytes.Equal(first, second) {
						t.Fatalf("second application changed the spec:\n%s\n---\n%s", first, second)
					}
					st2, _ := os.Stat(filepath.Join(dir, "config.json"))
					if !os.SameFile(st1, st2) {
						t.Error("an already compliant config.json was rewritten")
					}
					for _, c := range changes {
						if c.Step == "capabilities" || c.Step == "noNewPrivileges" {
							t.Errorf("second pass reported a change: %s", c)
						}
					}
				})
			}
		}
	}
}

// TestCanonical: the runtime reads one spelling of what secrun decoded:
// compact, minimal escapes, HTML characters as they are, numbers and the
// content of every member unchanged.
func TestCanonical(t *testing.T) {
	runcSpec, err := os.ReadFile("testdata/runc-spec.json")
	if err != nil {
		t.Fatal(err)
	}
	out, _ := apply(t, writeBundle(t, string(runcSpec)), policy(profiles.RuntimeDefault))
	if bytes.Contains(out, []byte("\n")) || !bytes.Contains(out, []byte(`"noNewPrivileges":true`)) {
		t.Errorf("not compact: %.200s", out)
	}
	doc := `{"process":{"args":["\u0073h","a\/b","\u00e9\ud83d\ude00","<&>"],"cwd":"/"},"x":{"n":1.50E+2,"\u0041":[true,null]}}`
	out, _ = apply(t, writeBundle(t, doc), policy(profiles.RuntimeDefault))
	for _, want := range []string{`"args":["sh","a/b","é😀","<&>"]`, `"x":{"n":1.50E+2,"A":[true,null]}`} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("no %s in %s", want, out)
		}
	}
}

func caps(s *specs.Spec) *specs.LinuxCapabilities { return s.Process.Capabilities }

func load(t *testing.T, doc string) *Config {
	c, err := LoadConfig(writeBundle(t, doc), "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestBadInputNamesFileAndKeepsIt(t *testing.T) {
	for name, doc := range map[string]string{
		"truncated":  `{"process":{"args":["sh"]`,
		"syntax":     "{\n\"process\": {,}\n}",
		"wrong type": `{"process":{"user":{"uid":"root"}}}`,
		"no process": `{"root":{"path":"rootfs"}}`,
		"null":       `null`,
		"array":      `[]`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := writeBundle(t, doc)
			_, err := LoadConfig(dir, "")
			if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "config.json")) {
				t.Fatalf("err = %v, want one naming the file", err)
			}
			if got, _ := os.ReadFile(filepath.Join(dir, "config.json")); string(got) != doc {
				t.Error("file changed")
			}
		})
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "real.json"), []byte(dockerSpec), 0o644)
	os.Symlink("real.json", filepath.Join(dir, "config.json"))
	if _, err := LoadConfig(dir, ""); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("symlinked config.json: %v", err)
	}
	link := filepath.Join(t.TempDir(), "bundle")
	os.Symlink(writeBundle(t, dockerSpec), link)
	if _, err := LoadConfig(link, ""); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("symlinked bundle: %v", err)
	}
	big := t.TempDir()
	f, _ := os.Create(filepath.Join(big, "config.json"))
	f.Truncate(100 << 20)
	f.Close()
	if _, err := LoadConfig(big, ""); err == nil || !strings.Contains(err.Error(), "over secrun's limit") {
		t.Errorf("100 MB config.json: %v", err)
	}
	if _, err := LoadConfig(filepath.Join(dir, "missing"), ""); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing bundle: %v", err)
	}
	// A FIFO is refused, not waited on for a writer.
	fifo := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(fifo, "config.json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(fifo, ""); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("FIFO config.json: %v", err)
	}
}

func TestAmbiguousKeysRefused(t *testing.T) {
	for name, doc := range map[string]string{
		"case variant top":     `{"process":{"args":["sh"]},"Process":{"args":["sh"]}}`,
		"duplicate":            `{"process":{"args":["sh"]},"process":{"args":["sh"],"capabilities":{"bounding":["CAP_SYS_ADMIN"]}}}`,
		"variant capabilities": `{"process":{"args":["sh"],"Capabilities":{"bounding":["CAP_SYS_ADMIN"]}}}`,
		"variant seccomp":      `{"process":{"args":["sh"]},"linux":{"Seccomp":{"defaultAction":"SCMP_ACT_ALLOW"}}}`,
		"variant linux":        `{"process":{"args":["sh"]},"linuX":{}}`,
	} {
		if _, err := ParseConfig("config.json", []byte(doc)); err == nil || !strings.Contains(err.Error(), "config.json") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

// A lone case variant of a key the checks read is read by Go (secrun, runc)
// and ignored by crun: the checks would pass on a value crun never applies.
func TestReadKeysMustBeExact(t *testing.T) {
	for name, doc := range map[string]string{
		"maskedPaths": `{"process":{},"linux":{"maskedpaths":["/proc/kcore"]}}`,
		"namespaces":  `{"process":{},"linux":{"Namespaces":[{"type":"pid"}]}}`,
		"uid":         `{"process":{"user":{"UID":1000}}}`,
		"user":        `{"process":{"User":{"uid":1000}}}`,
		"devices":     `{"process":{},"linux":{"resources":{"Devices":[]}}}`,
		"mounts":      `{"process":{},"Mounts":[]}`,
		"sysctl":      `{"process":{},"linux":{"sysctL":{}}}`,
	} {
		_, err := ParseConfig("config.json", []byte(doc))
		if err == nil || !strings.Contains(err.Error(), "must be spelled") || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err = %v, want a refusal naming %q", name, err, name)
		}
	}
}

// What secrun writes decodes, with runc's encoding/json, to exactly what it
// decided, nil included: a rule without names keeps null, not [].
func TestNilStaysNull(t *testing.T) {
	doc := `{"process":{"args":null},"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"action":"SCMP_ACT_ERRNO"},{"names":["read"],"action":"SCMP_ACT_ALLOW","args":null}]}}}`
	c, err := ParseConfig("config.json", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := policy(profiles.RuntimeDefault).ApplyConfig(c.Spec); err != nil {
		t.Fatal(err)
	}
	out, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	oneReading(t, out, c.Spec)
}
