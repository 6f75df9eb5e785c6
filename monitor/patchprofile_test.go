package monitor

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/secrun/secrun/profiles"
	"github.com/secrun/secrun/profiles/tool"
)

// findings summarize --profile writes a profile `secrun profile merge`
// takes as it is, and the enforced profile merged with it lets every
// logged call run: a replay of the findings gives no denial.
func TestPatchProfileMerges(t *testing.T) {
	type call struct {
		name string
		args [6]uint64
		arch string
	}
	logged := []call{
		{"keyctl", [6]uint64{}, "SCMP_ARCH_X86_64"},
		{"unshare", [6]uint64{0x10000000}, "SCMP_ARCH_X86_64"},
		{"clone", [6]uint64{0x10000000 | 17}, "SCMP_ARCH_X86_64"},
		{"personality", [6]uint64{0x400000}, "SCMP_ARCH_X86"},
		{"mount", [6]uint64{}, "SCMP_ARCH_X86_64"},
	}
	var lines []string
	for i, c := range logged {
		f := Finding{Type: "finding", Time: "2026-01-01T00:00:01.000Z", ContainerID: []string{"a", "b"}[i%2], Syscall: c.name,
			Arch: c.arch, Action: "logged", Seccomp: "log", Policy: "runtime-default/complain"}
		data, _ := json.Marshal(f)
		lines = append(lines, string(data))
	}
	// Not in the profile: clone3's compat answer and a denial.
	for _, f := range []Finding{
		{Type: "finding", ContainerID: "a", Syscall: "clone3", Arch: "SCMP_ARCH_X86_64", Action: "compat", Seccomp: "errno", Errno: "ENOSYS"},
		{Type: "finding", ContainerID: "a", Syscall: "bpf", Arch: "SCMP_ARCH_X86_64", Action: "denied", Seccomp: "errno", Errno: "EPERM"},
	} {
		data, _ := json.Marshal(f)
		lines = append(lines, string(data))
	}
	dir := t.TempDir()
	in, patch := filepath.Join(dir, "findings.jsonl"), filepath.Join(dir, "patch.json")
	os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
	var out, errb bytes.Buffer
	if code := FindingsMain([]string{"summarize", "--profile", patch, in}, &out, &errb); code != 0 {
		t.Fatalf("summarize: exit %d: %s", code, errb.String())
	}

	def, err := profiles.LevelNamed(profiles.RuntimeDefault).Seccomp(profiles.BaselineCaps())
	if err != nil {
		t.Fatal(err)
	}
	enforced := filepath.Join(dir, "enforced.json")
	defJSON, _ := json.Marshal(def)
	os.WriteFile(enforced, defJSON, 0o644)
	merged := filepath.Join(dir, "merged.json")
	out.Reset()
	errb.Reset()
	if code := tool.Main([]string{"merge", "--output", merged, enforced, patch}, &out, &errb); code != 0 {
		t.Fatalf("profile merge did not take the patch as it is: exit %d: %s", code, errb.String())
	}
	data, _ := os.ReadFile(merged)
	var m specs.LinuxSeccomp
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for _, c := range logged {
		if got := profiles.Evaluate(&m, c.name, c.args); !profiles.Permissive(got) {
			t.Errorf("replay: %s%v denied (%s) by the merged profile", c.name, c.args, got)
		}
		if !profiles.Permissive(profiles.Evaluate(&m, "read", [6]uint64{})) {
			t.Error("merged profile lost what the enforced one allowed")
		}
	}
	for _, n := range []string{"clone3", "bpf"} {
		if profiles.Permissive(profiles.Evaluate(&m, n, [6]uint64{})) {
			t.Errorf("%s allowed: only logged calls belong in the patch", n)
		}
	}
}
