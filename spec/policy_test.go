package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/secrun/secrun/profiles"
)

func policy(level string) *Policy {
	l := profiles.Levels[level]
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
	stock, _ := json.Marshal(profiles.Stock)
	doc = strings.ReplaceAll(doc, "STOCK", string(stock))
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(doc), 0o640); err != nil {
		t.Fatal(err)
	}
	return dir
}

func apply(t *testing.T, dir string, p *Policy) ([]byte, []string) {
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
						if strings.HasPrefix(c, "capabilities") || strings.HasPrefix(c, "noNewPrivileges") {
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

func TestCapabilities(t *testing.T) {
	t.Run("stock NET_RAW dropped quietly", func(t *testing.T) {
		c := load(t, dockerSpec)
		if _, err := policy(profiles.RuntimeDefault).ApplyConfig(c.Spec); err != nil {
			t.Fatal(err)
		}
		want := profiles.Baseline
		for _, set := range [][]string{caps(c.Spec).Bounding, caps(c.Spec).Effective, caps(c.Spec).Permitted} {
			got := slices.Sorted(slices.Values(set))
			if !slices.Equal(got, want) {
				t.Errorf("set = %v, want %v", got, want)
			}
		}
	})
	t.Run("restricted keeps NET_BIND_SERVICE only", func(t *testing.T) {
		c := load(t, dockerSpec)
		if _, err := policy(profiles.Restricted).ApplyConfig(c.Spec); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(caps(c.Spec).Bounding, []string{"CAP_NET_BIND_SERVICE"}) {
			t.Errorf("bounding = %v", caps(c.Spec).Bounding)
		}
	})
	for _, tc := range []struct {
		extra, onViolation, wantErr string
	}{
		{"CAP_SYS_ADMIN", "refuse", "looks privileged"},
		{"CAP_SYS_ADMIN", "drop", "looks privileged"},
		{"CAP_NET_ADMIN", "refuse", "CAP_NET_ADMIN is not allowed"},
		{"CAP_NET_ADMIN", "drop", ""},
		{"CAP_BOGUS", "drop", "unknown capability \"CAP_BOGUS\""},
	} {
		t.Run(tc.extra+"/"+tc.onViolation, func(t *testing.T) {
			c := load(t, strings.Replace(dockerSpec, `"bounding":STOCK`, `"bounding":["`+tc.extra+`"]`, 1))
			p := policy(profiles.RuntimeDefault)
			p.OnViolation = tc.onViolation
			_, err := p.ApplyConfig(c.Spec)
			var pe *Error
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatal(err)
			case tc.wantErr == "" && slices.Contains(caps(c.Spec).Bounding, tc.extra):
				t.Errorf("%s kept with on_violation=drop", tc.extra)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.As(err, &pe)):
				t.Errorf("err = %v, want a policy error containing %q", err, tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), "test.toml") && tc.extra != "CAP_BOGUS":
				t.Errorf("error does not name the config to change: %v", err)
			}
		})
	}
	t.Run("every capability is privileged", func(t *testing.T) {
		all, _ := json.Marshal(profiles.AllCaps())
		c := load(t, strings.Replace(dockerSpec, `"bounding":STOCK`, `"bounding":`+string(all), 1))
		p := policy(profiles.RuntimeDefault)
		p.CapAllow = append(slices.Clone(p.CapAllow), "CAP_NET_ADMIN")
		if _, err := p.ApplyConfig(c.Spec); err == nil || !strings.Contains(err.Error(), "every capability") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("allowed extra capability kept", func(t *testing.T) {
		c := load(t, strings.Replace(dockerSpec, `"bounding":STOCK`, `"bounding":["CAP_NET_ADMIN"]`, 1))
		p := policy(profiles.RuntimeDefault)
		p.CapAllow = append(slices.Clone(p.CapAllow), "CAP_NET_ADMIN")
		if _, err := p.ApplyConfig(c.Spec); err != nil || !slices.Contains(caps(c.Spec).Bounding, "CAP_NET_ADMIN") {
			t.Errorf("err %v, bounding %v", err, caps(c.Spec).Bounding)
		}
	})
}

func TestExecGetsAtMostTheContainers(t *testing.T) {
	container := &specs.Process{Capabilities: &specs.LinuxCapabilities{
		Bounding: []string{"CAP_CHOWN", "CAP_KILL"}, Effective: []string{"CAP_KILL"}, Permitted: []string{"CAP_KILL"},
	}}
	stock := profiles.Stock
	proc := &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: stock, Effective: stock, Permitted: stock}}
	if _, err := policy(profiles.RuntimeDefault).ApplyExec(proc, container); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(proc.Capabilities.Bounding, []string{"CAP_CHOWN", "CAP_KILL"}) || !slices.Equal(proc.Capabilities.Effective, []string{"CAP_KILL"}) {
		t.Errorf("exec caps = %+v", proc.Capabilities)
	}
	if !proc.NoNewPrivileges {
		t.Error("noNewPrivileges not set on exec")
	}
	proc = &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_SYS_PTRACE"}}}
	if _, err := policy(profiles.RuntimeDefault).ApplyExec(proc, container); err == nil {
		t.Error("exec asking for CAP_SYS_PTRACE must be refused")
	}
}

func TestSeccompDefault(t *testing.T) {
	c := load(t, dockerSpec)
	if _, err := policy(profiles.RuntimeDefault).ApplyConfig(c.Spec); err != nil {
		t.Fatal(err)
	}
	s := c.Spec.Linux.Seccomp
	for call, want := range map[string]bool{"getpid": true, "read": true, "keyctl": false, "unshare": false, "mount": false, "bpf": false, "ptrace": true} {
		if got := profiles.Permissive(profiles.Evaluate(s, call, [6]uint64{})); got != want {
			t.Errorf("%s allowed = %v, want %v", call, got, want)
		}
	}
	c = load(t, dockerSpec)
	if _, err := policy(profiles.Restricted).ApplyConfig(c.Spec); err != nil {
		t.Fatal(err)
	}
	s = c.Spec.Linux.Seccomp
	for call, want := range map[string]bool{"ptrace": false, "io_uring_setup": false, "userfaultfd": false, "process_vm_readv": false, "getpid": true} {
		if got := profiles.Permissive(profiles.Evaluate(s, call, [6]uint64{})); got != want {
			t.Errorf("restricted: %s allowed = %v, want %v", call, got, want)
		}
	}
	if profiles.Permissive(profiles.Evaluate(s, "personality", [6]uint64{8})) || !profiles.Permissive(profiles.Evaluate(s, "personality", [6]uint64{0xffffffff})) {
		t.Error("restricted: personality must allow only the query")
	}
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
}

func TestAppArmorStep(t *testing.T) {
	var ensured []string
	p := policy(profiles.RuntimeDefault)
	p.AppArmor = AppArmorPolicy{Profile: "secrun-default", HostSupports: true, Ensure: func(n string) error { ensured = append(ensured, n); return nil }}
	c := load(t, dockerSpec)
	if _, err := p.ApplyConfig(c.Spec); err != nil {
		t.Fatal(err)
	}
	if len(ensured) != 0 {
		t.Fatalf("ApplyConfig (what explain runs) loaded %v into the host", ensured)
	}
	if err := p.HostEffects(c.Spec); err != nil {
		t.Fatal(err)
	}
	if c.Spec.Process.ApparmorProfile != "secrun-default" || !slices.Equal(ensured, []string{"secrun-default"}) {
		t.Errorf("profile %q, ensured %v", c.Spec.Process.ApparmorProfile, ensured)
	}
	c = load(t, strings.Replace(dockerSpec, `"cwd":"/"`, `"cwd":"/","apparmorProfile":"unconfined"`, 1))
	if _, err := p.ApplyConfig(c.Spec); err == nil || !strings.Contains(err.Error(), "unconfined") {
		t.Errorf("unconfined: %v", err)
	}
	proc := &specs.Process{ApparmorProfile: "unconfined"}
	if _, err := p.ApplyExec(proc, &specs.Process{ApparmorProfile: "secrun-default"}); err != nil || proc.ApparmorProfile != "secrun-default" {
		t.Errorf("exec profile %q, %v", proc.ApparmorProfile, err)
	}
	// No AppArmor on the host: left alone, or refused when required.
	p.AppArmor = AppArmorPolicy{Profile: "secrun-default"}
	c = load(t, dockerSpec)
	if _, err := p.ApplyConfig(c.Spec); err != nil || c.Spec.Process.ApparmorProfile != "" {
		t.Errorf("no-AppArmor host: %q %v", c.Spec.Process.ApparmorProfile, err)
	}
	p.AppArmor.Require = true
	if _, err := p.ApplyConfig(load(t, dockerSpec).Spec); err == nil || !strings.Contains(err.Error(), "require = true") {
		t.Errorf("require: %v", err)
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

// A crafted profile must not make a create slow (it took minutes before
// the limit): one rule with 20000 conditions on one argument is refused, a
// large but sane one merges.
func TestHugeProfileRefused(t *testing.T) {
	for _, tc := range []struct {
		n      int
		refuse bool
	}{{20000, true}, {1500, false}} {
		var args []specs.LinuxSeccompArg
		for i := range tc.n {
			args = append(args, specs.LinuxSeccompArg{Index: uint(i % 7), Value: uint64(i), Op: specs.OpEqualTo})
		}
		s := &specs.Spec{Process: &specs.Process{}, Linux: &specs.Linux{Seccomp: &specs.LinuxSeccomp{
			DefaultAction: specs.ActErrno,
			Syscalls:      []specs.LinuxSyscall{{Names: []string{"socket", "personality"}, Action: specs.ActAllow, Args: args}},
		}}}
		_, err := policy(profiles.RuntimeDefault).ApplyConfig(s)
		if tc.refuse != (err != nil && strings.Contains(err.Error(), "over secrun's limit")) {
			t.Errorf("%d conditions: err = %v, want refused: %v", tc.n, err, tc.refuse)
		}
	}
}
