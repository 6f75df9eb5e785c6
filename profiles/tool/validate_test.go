package tool

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"

	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/secrun/secrun/profiles"
)

var bpfLine = regexp.MustCompile(`: compiled by libseccomp [0-9.]+: (\d+) BPF instructions`)

// validateOK runs validate on one file and requires success with a
// compiled filter; it returns the output.
func validateOK(t *testing.T, path string, args ...string) string {
	t.Helper()
	code, out, errs := run(t, append(append([]string{"validate"}, args...), path)...)
	if code != 0 {
		t.Fatalf("validate %s: exit %d\n%s%s", path, code, out, errs)
	}
	m := bpfLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no BPF count:\n%s", out)
	}
	if n, _ := strconv.Atoi(m[1]); n <= 0 {
		t.Errorf("BPF instructions %d", n)
	}
	if !strings.Contains(out, path+": ok") {
		t.Errorf("no ok line:\n%s", out)
	}
	return out
}

func validateFails(t *testing.T, path string, want ...string) string {
	t.Helper()
	code, out, errs := run(t, "validate", path)
	if code != 1 || !strings.Contains(out, path+": FAILED") {
		t.Fatalf("validate %s: exit %d, want 1 and FAILED\n%s%s", path, code, out, errs)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	return out
}

// Docker's default profile in its own format (archMap, includes/excludes),
// marshaled from github.com/moby/profiles/seccomp.
func TestValidateDockerDefault(t *testing.T) {
	data, err := json.Marshal(mobyseccomp.DefaultProfile())
	if err != nil {
		t.Fatal(err)
	}
	path := writeFile(t, "docker-default.json", data)
	out := validateOK(t, path)
	if !strings.Contains(out, path+": docker profile:") || strings.Contains(out, "error:") {
		t.Errorf("output:\n%s", out)
	}
	// The resolution follows --caps: CAP_SYS_ADMIN adds mount.
	p, err := loadFile(path, loadOptions{Caps: profiles.StockCaps()})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := loadFile(path, loadOptions{Caps: append([]string{"CAP_SYS_ADMIN"}, profiles.StockCaps()...)})
	if err != nil {
		t.Fatal(err)
	}
	if classify(p.Seccomp)["mount"] == Allowed || classify(admin.Seccomp)["mount"] != Allowed {
		t.Error("includes.caps not resolved for the bounding set")
	}
	validateOK(t, path, "--caps", "CAP_SYS_ADMIN,chown")
}

// The built-in levels, resolved for their allowlists, as OCI JSON, as a
// config.json and as an SPO profile.
func TestValidateLevels(t *testing.T) {
	for _, name := range profiles.LevelNames() {
		lvl := profiles.LevelNamed(name)
		p, err := lvl.Seccomp(lvl.Caps)
		if err != nil {
			t.Fatal(err)
		}
		r := checkProfile(p, false)
		if len(r.Errors) > 0 || r.Instructions == 0 {
			t.Errorf("%s: %v, %d instructions", name, r.Errors, r.Instructions)
		}
		out := validateOK(t, writeProfile(t, name+".json", p))
		if !strings.Contains(out, ": oci profile:") {
			t.Errorf("%s: format not detected:\n%s", name, out)
		}
		cfg := map[string]any{"ociVersion": "1.2.0", "process": map[string]any{"args": []string{"sh"}}, "linux": map[string]any{"seccomp": p}}
		out = validateOK(t, writeProfile(t, "config.json", cfg))
		if !strings.Contains(out, ": config.json profile:") {
			t.Errorf("%s: config.json not detected:\n%s", name, out)
		}
		yml, err := ToSPO(p, name)
		if err != nil {
			t.Fatal(err)
		}
		out = validateOK(t, writeFile(t, name+".yaml", yml))
		if !strings.Contains(out, ": spo profile:") {
			t.Errorf("%s: SPO not detected:\n%s", name, out)
		}
	}
}

func TestValidateErrors(t *testing.T) {
	unknown := allowlist("read", "frobnicate")
	validateFails(t, writeProfile(t, "unknown.json", unknown), "unknown syscall frobnicate (rule 1)")
	if code, out, _ := run(t, "validate", "--allow-unknown", writeProfile(t, "unknown.json", unknown)); code != 0 || !strings.Contains(out, "warning: unknown syscall frobnicate") {
		t.Errorf("--allow-unknown: exit %d\n%s", code, out)
	}

	conflict := allowlist("read", "write")
	conflict.Syscalls = append(conflict.Syscalls, specs.LinuxSyscall{Names: []string{"write"}, Action: specs.ActKillProcess})
	validateFails(t, writeProfile(t, "conflict.json", conflict), "conflict: write is SCMP_ACT_ALLOW in rule 1 and SCMP_ACT_KILL_PROCESS in rule 2")

	// Different errno is a conflict too; argument rules are not.
	e1, e2 := uint(1), uint(38)
	errnos := allowlist("read")
	errnos.Syscalls = append(errnos.Syscalls,
		specs.LinuxSyscall{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: &e2},
		specs.LinuxSyscall{Names: []string{"clone3"}, Action: specs.ActTrace, ErrnoRet: &e1},
		specs.LinuxSyscall{Names: []string{"read"}, Action: specs.ActErrno, ErrnoRet: &e2, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 99, Op: specs.OpEqualTo}}})
	out := validateFails(t, writeProfile(t, "errnos.json", errnos), "conflict: clone3 is SCMP_ACT_ERRNO(errno 38) in rule 2 and SCMP_ACT_TRACE(errno 1) in rule 3")
	if strings.Contains(out, "conflict: read") {
		t.Errorf("an argument rule is not a conflict:\n%s", out)
	}

	bad := &specs.LinuxSeccomp{
		DefaultAction: "SCMP_ACT_MAYBE",
		Architectures: []specs.Arch{"SCMP_ARCH_Z80"},
		Flags:         []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_NOPE"},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read"}, Action: specs.ActNotify},
			{Names: nil, Action: specs.ActAllow},
			{Names: []string{"write"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 7, Op: "SCMP_CMP_SOMETIMES"}}},
		},
	}
	validateFails(t, writeProfile(t, "bad.json", bad),
		`defaultAction "SCMP_ACT_MAYBE"`, `unknown architecture "SCMP_ARCH_Z80"`, `flag "SECCOMP_FILTER_FLAG_NOPE"`,
		"SCMP_ACT_NOTIFY needs listenerPath", "rule 2 has no names", `operator "SCMP_CMP_SOMETIMES"`, "argument index 7")
}

func TestValidateWarnings(t *testing.T) {
	dup := allowlist("read", "write", "read")
	dup.Syscalls = append(dup.Syscalls,
		specs.LinuxSyscall{Names: []string{"write"}, Action: specs.ActAllow},
		specs.LinuxSyscall{Names: []string{"close"}, Action: specs.ActErrno})
	out := validateOK(t, writeProfile(t, "dup.json", dup))
	for _, w := range []string{
		"warning: duplicate: read is listed twice in rule 1",
		"warning: duplicate: write is in rules 1 and 2 with the same action and arguments",
		"warning: rule 3 (close) has the default action SCMP_ACT_ERRNO",
		"ok (3 warnings)",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("missing %q:\n%s", w, out)
		}
	}
	// The counts line.
	if !strings.Contains(out, "3 rules, 5 names (3 unique), 2 allowed outright, 0 conditionally; default SCMP_ACT_ERRNO (errno 1)") {
		t.Errorf("counts:\n%s", out)
	}
}

func TestLoadFormats(t *testing.T) {
	spo := `apiVersion: security-profiles-operator.x-k8s.io/v1beta1
kind: SeccompProfile
metadata:
  name: web
  namespace: default
spec:
  baseProfileName: runc-v1.1.5
  defaultAction: SCMP_ACT_ERRNO
  architectures: [SCMP_ARCH_X86_64]
  syscalls:
  - action: SCMP_ACT_ALLOW
    names: [read, write]
  - action: SCMP_ACT_ERRNO
    errnoRet: 38
    names: [clone3]
  - action: SCMP_ACT_ALLOW
    names: [personality]
    args:
    - index: 0
      value: 4294967295
      op: SCMP_CMP_EQ
`
	p, err := loadFile(writeFile(t, "web.yaml", []byte(spo)), loadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := p.Seccomp
	if p.Format != FormatSPO || p.Name != "web" || len(s.Syscalls) != 3 || *s.Syscalls[1].ErrnoRet != 38 ||
		s.Syscalls[2].Args[0].Value != 0xffffffff || len(p.Notes) != 1 {
		t.Errorf("SPO: %+v %+v", p, s)
	}

	cases := map[string]string{
		"{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n  \"syscalls\": [\n    {\"names\": [\"read\"] \"action\": 1}\n  ]\n}": "JSON line 4 column",
		`{"defaultAction": "SCMP_ACT_ERRNO", "syscals": []}`:                                                                `unknown field "syscals"`,
		`{"ociVersion": "1.2.0", "process": {}}`:                                                                            "without linux.seccomp",
		`{"hello": 1}`:                                                                                                      "not a seccomp profile",
		"apiVersion: v1\nkind: Pod\n":                                                                                       `kind "Pod"`,
		"   \n":                                                                                                             "empty file",
	}
	for in, want := range cases {
		path := writeFile(t, "x.json", []byte(in))
		_, err := loadFile(path, loadOptions{})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), path+": ") {
			t.Errorf("%q: error %v, want %q naming the file", in, err, want)
		}
	}
	code, out, _ := run(t, "validate", "/nonexistent/p.json")
	if code != 1 || !strings.Contains(out, "/nonexistent/p.json: error: no such file or directory") {
		t.Errorf("missing file: exit %d\n%s", code, out)
	}
}
