package tool

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/secrun/secrun/profiles"
)

func TestDiff(t *testing.T) {
	a := allowlist("read", "write", "openat", "ptrace")
	a.Syscalls = append(a.Syscalls, specs.LinuxSyscall{Names: []string{"personality"}, Action: specs.ActAllow,
		Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0, Op: specs.OpEqualTo}}})
	b := allowlist("read", "write", "close", "personality")
	b.Syscalls = append(b.Syscalls, specs.LinuxSyscall{Names: []string{"socket"}, Action: specs.ActAllow,
		Args: []specs.LinuxSeccompArg{{Index: 0, Value: 1, Op: specs.OpEqualTo}}})
	d := diffProfiles(a, b)
	if !slices.Equal(d.OnlyA, []string{"openat", "ptrace"}) || !slices.Equal(d.OnlyB, []string{"close"}) ||
		!slices.Equal(d.BOutrightAConditional, []string{"personality"}) || !slices.Equal(d.BConditionalADenied, []string{"socket"}) ||
		len(d.AOutrightBConditional)+len(d.AConditionalBDenied)+len(d.BothConditionalDiffers) != 0 {
		t.Errorf("diff: %+v", d)
	}
	pa, pb := writeProfile(t, "a.json", a), writeProfile(t, "b.json", b)
	code, out, errs := run(t, "diff", pa, pb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, w := range []string{
		"allowed by A, denied by B (2):\n  openat ptrace\n",
		"allowed by B, denied by A (1):\n  close\n",
		"allowed outright by B, only for some arguments by A (1):\n  personality\n",
		"allowed for some arguments by B, denied by A (1):\n  socket\n",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("missing %q:\n%s", w, out)
		}
	}
	if code, out, _ := run(t, "diff", pa, pa); code != 0 || !strings.Contains(out, "A and B allow the same syscalls") {
		t.Errorf("same profile: exit %d\n%s", code, out)
	}
	if code, _, errs := run(t, "diff", pa, "/nonexistent.json"); code != 1 || !strings.Contains(errs, "/nonexistent.json") {
		t.Errorf("unreadable: exit %d %s", code, errs)
	}
	if code, _, _ := run(t, "diff", pa); code != 2 {
		t.Errorf("one file: exit %d, want 2", code)
	}

	// The two built-in levels: restricted takes ptrace and friends away and
	// narrows personality.
	def, _ := profiles.LevelNamed(profiles.RuntimeDefault).Seccomp(profiles.BaselineCaps())
	res, _ := profiles.LevelNamed(profiles.Restricted).Seccomp(profiles.BaselineCaps())
	d = diffProfiles(def, res)
	for _, n := range []string{"ptrace", "process_vm_readv", "process_vm_writev"} {
		if !slices.Contains(d.OnlyA, n) {
			t.Errorf("%s not in runtime-default minus restricted: %v", n, d.OnlyA)
		}
	}
	if len(d.OnlyB) != 0 || !slices.Contains(d.BothConditionalDiffers, "personality") {
		t.Errorf("levels: %+v", d)
	}

	// A blocklist against an allowlist compares every syscall.
	block := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"ptrace"}, Action: specs.ActErrno}}}
	d = diffProfiles(block, allowlist("read"))
	if !slices.Contains(d.OnlyA, "openat") || slices.Contains(d.OnlyA, "ptrace") || slices.Contains(d.OnlyA, "read") {
		t.Errorf("blocklist diff: %v", d.OnlyA)
	}
}

func TestMerge(t *testing.T) {
	a := allowlist("read", "write", "openat")
	a.Syscalls = append(a.Syscalls, runtimeThreadRules(map[string]bool{})...) // clone for threads, clone3 ENOSYS
	b := allowlist("read", "close", "clone")
	b.Architectures = []specs.Arch{specs.ArchX86_64}
	pa, pb := writeProfile(t, "a.json", a), writeProfile(t, "b.json", b)
	outFile := filepath.Join(t.TempDir(), "merged.json")
	code, out, errs := run(t, "merge", pa, pb, "--output", outFile)
	if code != 0 || out != "" {
		t.Fatalf("exit %d, stdout %q: %s", code, out, errs)
	}
	data, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	m := decodeProfile(t, string(data))
	want := []string{"clone", "close", "openat", "read", "write"}
	if len(m.Syscalls) != 2 || !slices.Equal(m.Syscalls[0].Names, want) || m.Syscalls[1].Names[0] != "clone3" {
		t.Errorf("merged rules: %+v", m.Syscalls)
	}
	if m.DefaultAction != specs.ActErrno || *m.DefaultErrnoRet != 1 || len(m.Architectures) != 3 {
		t.Errorf("merged header: %+v", m)
	}
	if !strings.Contains(errs, "result: 2 rules") {
		t.Errorf("stderr: %s", errs)
	}
	// The merge allows exactly the union.
	for _, n := range append(want, "mmap", "clone3") {
		if got, wantAllowed := classify(m)[n] == Allowed, slices.Contains(want, n); got != wantAllowed {
			t.Errorf("%s allowed=%v, want %v", n, got, wantAllowed)
		}
	}
	if r := checkProfile(m, false); len(r.Errors) > 0 {
		t.Errorf("merged profile: %v", r.Errors)
	}

	kill := allowlist("read")
	kill.DefaultAction, kill.DefaultErrnoRet = specs.ActKillProcess, nil
	if code, _, errs := run(t, "merge", pa, writeProfile(t, "kill.json", kill)); code != 1 || !strings.Contains(errs, "different defaultActions") {
		t.Errorf("different defaults: exit %d %s", code, errs)
	}
	e2 := uint(2)
	other := allowlist("read")
	other.DefaultErrnoRet = &e2
	if code, _, errs := run(t, "merge", pa, writeProfile(t, "errno2.json", other)); code != 1 || !strings.Contains(errs, "SCMP_ACT_ERRNO(errno 2)") {
		t.Errorf("different errno: exit %d %s", code, errs)
	}
	block := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow}
	if code, _, errs := run(t, "merge", pa, writeProfile(t, "block.json", block)); code != 1 || !strings.Contains(errs, "blocklist") {
		t.Errorf("blocklist: exit %d %s", code, errs)
	}
	if code, _, _ := run(t, "merge", pa); code != 2 {
		t.Errorf("one input: exit %d, want 2", code)
	}
}

func TestShow(t *testing.T) {
	for _, name := range profiles.LevelNames() {
		code, out, errs := run(t, "show", name)
		if code != 0 {
			t.Fatalf("show %s: exit %d: %s", name, code, errs)
		}
		lvl := profiles.LevelNamed(name)
		want, _ := lvl.Seccomp(lvl.Caps)
		if out != string(marshalProfile(want)) {
			t.Errorf("show %s differs from the level resolved for its allowlist", name)
		}
		if !strings.HasPrefix(errs, name+": built-in level resolved for") || !strings.Contains(errs, "allowed outright") {
			t.Errorf("stderr: %s", errs)
		}
	}
	// --caps changes the resolution: CAP_SYS_ADMIN brings mount.
	_, out, _ := run(t, "show", "--caps", "CAP_SYS_ADMIN", "runtime-default")
	if classify(decodeProfile(t, out))["mount"] != Allowed {
		t.Error("--caps CAP_SYS_ADMIN: mount not allowed")
	}
	if code, _, errs := run(t, "show", "--caps", "CAP_FLY", "runtime-default"); code != 2 || !strings.Contains(errs, "CAP_FLY") {
		t.Errorf("bad cap: exit %d %s", code, errs)
	}

	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "web.json"), marshalProfile(allowlist("read", "write")), 0o644)
	code, out, errs := run(t, "show", "--profiles-dir", dir, "web")
	if code != 0 || !slices.Equal(decodeProfile(t, out).Syscalls[0].Names, []string{"read", "write"}) || !strings.Contains(errs, "oci profile "+filepath.Join(dir, "web.json")) {
		t.Errorf("show web: exit %d\n%s%s", code, out, errs)
	}
	code, out, _ = run(t, "show", filepath.Join(dir, "web.json"))
	if code != 0 || decodeProfile(t, out).DefaultAction != specs.ActErrno {
		t.Errorf("show by path: exit %d", code)
	}
	code, _, errs = run(t, "show", "--profiles-dir", dir, "nope")
	if code != 1 || !strings.Contains(errs, "restricted, runtime-default") || !strings.Contains(errs, filepath.Join(dir, "nope.json")) {
		t.Errorf("unknown name: exit %d %s", code, errs)
	}
}

func TestMainUsage(t *testing.T) {
	if code, out, _ := run(t, "help"); code != 0 || !strings.Contains(out, "from-strace") {
		t.Errorf("help: %d %s", code, out)
	}
	if code, _, errs := run(t); code != 2 || !strings.Contains(errs, "usage: secrun profile") {
		t.Errorf("no args: %d %s", code, errs)
	}
	if code, _, errs := run(t, "frob"); code != 2 || !strings.Contains(errs, `unknown command "frob"`) {
		t.Errorf("unknown command: %d %s", code, errs)
	}
	if code, _, _ := run(t, "validate", "--nope", "x"); code != 2 {
		t.Errorf("unknown flag: %d", code)
	}
	if code, _, _ := run(t, "from-strace", "--format", "xml", "x"); code != 2 {
		t.Errorf("bad format: %d", code)
	}
	if code, _, _ := run(t, "show", "-h"); code != 0 {
		t.Errorf("-h: %d", code)
	}
}

func TestParseInterleaved(t *testing.T) {
	fs := newFlags("merge", os.Stderr)
	out := fs.String("output", "", "")
	pos, err := ParseInterleaved(fs, []string{"a", "--output", "o", "b", "--", "--c"})
	if err != nil || *out != "o" || !slices.Equal(pos, []string{"a", "b", "--c"}) {
		t.Errorf("pos %v out %q err %v", pos, *out, err)
	}
}

// diff against runtime-default flags what a recording allows beyond it,
// argument values included (clone with namespace flags).
func TestDiffFlagsLooserThanDefault(t *testing.T) {
	rec := allowlist("read", "write", "clone", "clone3", "keyctl")
	p := writeProfile(t, "rec.json", rec)
	code, out, errs := run(t, "diff", p, profiles.RuntimeDefault)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "LOOSER than runtime-default: A allows what runtime-default denies") || !strings.Contains(out, "clone clone3 keyctl") {
		t.Errorf("looser names not flagged:\n%s", out)
	}
	// A recording inside runtime-default is not flagged.
	within := allowlist("read", "write")
	within.Syscalls = append(within.Syscalls, specs.LinuxSyscall{Names: []string{"clone"}, Action: specs.ActAllow,
		Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0x7E030000, ValueTwo: 0x10000, Op: specs.OpMaskedEqual}}})
	_, out, _ = run(t, "diff", writeProfile(t, "within.json", within), profiles.RuntimeDefault)
	if strings.Contains(out, "LOOSER than runtime-default") {
		t.Errorf("a profile within runtime-default flagged:\n%s", out)
	}
}
