package tool

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"sigs.k8s.io/yaml"
)

// straceRun runs the real strace with args; it skips (or, under
// SECRUN_INTEGRATION=1, fails) where strace is missing or cannot trace.
func straceRun(t *testing.T, args ...string) {
	t.Helper()
	path, err := exec.LookPath("strace")
	if err != nil {
		if required() {
			t.Fatal("strace not installed (script/install-deps.sh installs it)")
		}
		t.Skip("strace not installed")
	}
	if out, err := exec.Command(path, args...).CombinedOutput(); err != nil {
		if required() {
			t.Fatalf("strace %v: %v\n%s", args, err, out)
		}
		t.Skipf("strace cannot trace here: %v\n%s", err, out)
	}
}

// traceFiles parses files as from-strace does.
func traceFiles(t *testing.T, files ...string) *Trace {
	t.Helper()
	tr := NewTrace()
	for _, f := range files {
		if err := parseStraceFile(tr, f); err != nil {
			t.Fatal(err)
		}
	}
	return tr
}

// checkNames requires want among the names and every name known to
// libseccomp (no garbage from the parser).
func checkNames(t *testing.T, tr *Trace, want ...string) {
	t.Helper()
	for _, w := range want {
		if _, ok := tr.Calls[w]; !ok {
			t.Errorf("%s missing from %v", w, sortedKeys(tr.Calls))
		}
	}
	for n := range tr.Calls {
		if !knownName(n) && !newerThanLibseccomp(n) {
			t.Errorf("name %q is not a syscall libseccomp knows", n)
		}
	}
	if tr.UnparsedCount > 0 {
		t.Errorf("%d lines not understood: %v", tr.UnparsedCount, tr.Unparsed)
	}
}

func TestRealStrace(t *testing.T) {
	dir := t.TempDir()
	t.Run("f", func(t *testing.T) {
		out := filepath.Join(dir, "true.txt")
		straceRun(t, "-f", "-o", out, "/bin/true")
		checkNames(t, traceFiles(t, out), "execve", "exit_group")
	})
	t.Run("ff", func(t *testing.T) {
		prefix := filepath.Join(dir, "ff")
		straceRun(t, "-ff", "-o", prefix, "/bin/sh", "-c", "ls / >/dev/null; exit 0")
		files, _ := filepath.Glob(prefix + ".*")
		if len(files) < 2 {
			t.Fatalf("-ff wrote %d files, want one per process (sh and ls)", len(files))
		}
		tr := traceFiles(t, files...)
		checkNames(t, tr, "execve", "exit_group", "getdents64", "wait4")
		if !slices.ContainsFunc([]string{"clone", "clone3", "fork", "vfork"}, func(n string) bool { _, ok := tr.Calls[n]; return ok }) {
			t.Errorf("sh started ls without clone/fork: %v", sortedKeys(tr.Calls))
		}
	})
	t.Run("c", func(t *testing.T) {
		out := filepath.Join(dir, "c.txt")
		straceRun(t, "-c", "-o", out, "/bin/ls", "/")
		tr := traceFiles(t, out)
		checkNames(t, tr, "execve", "getdents64", "mmap")
		if _, ok := tr.Calls["total"]; ok {
			t.Error("the total row was taken for a syscall")
		}
	})
	t.Run("f-tt-T", func(t *testing.T) {
		out := filepath.Join(dir, "tt.txt")
		straceRun(t, "-f", "-tt", "-T", "-o", out, "/bin/sh", "-c", "ls / >/dev/null")
		checkNames(t, traceFiles(t, out), "execve", "exit_group", "getdents64")
	})
	t.Run("ttt-r-i-n-k", func(t *testing.T) {
		out := filepath.Join(dir, "many.txt")
		straceRun(t, "-f", "-ttt", "-r", "-i", "-n", "-k", "-o", out, "/bin/ls", "/")
		checkNames(t, traceFiles(t, out), "execve", "exit_group", "getdents64")
	})
	t.Run("C", func(t *testing.T) {
		out := filepath.Join(dir, "C.txt")
		straceRun(t, "-f", "-C", "-o", out, "/bin/ls", "/")
		checkNames(t, traceFiles(t, out), "execve", "exit_group", "getdents64")
	})
}

// The whole command on a real trace: a profile that validates and compiles,
// in both formats.
func TestFromStraceCommand(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "rec")
	straceRun(t, "-ff", "-tt", "-o", prefix, "/bin/sh", "-c", "ls / >/dev/null")
	files, _ := filepath.Glob(prefix + ".*")

	code, out, errs := run(t, append([]string{"from-strace"}, files...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	p := decodeProfile(t, out)
	if p.DefaultAction != specs.ActErrno || p.DefaultErrnoRet == nil || *p.DefaultErrnoRet != 1 {
		t.Errorf("default %s %v, want SCMP_ACT_ERRNO with errno 1", p.DefaultAction, p.DefaultErrnoRet)
	}
	arches, _ := HostArches()
	if !slices.Equal(p.Architectures, arches) || len(arches) == 0 {
		t.Errorf("architectures %v, want %v", p.Architectures, arches)
	}
	if p.Syscalls[0].Action != specs.ActAllow || !slices.IsSorted(p.Syscalls[0].Names) {
		t.Errorf("first rule must be the sorted ALLOW list: %+v", p.Syscalls[0])
	}
	if len(slices.Compact(slices.Clone(p.Syscalls[0].Names))) != len(p.Syscalls[0].Names) {
		t.Error("names repeated")
	}
	for _, n := range append([]string{"getdents64", "wait4"}, runtimeBaseNames()...) {
		if !slices.Contains(p.Syscalls[0].Names, n) {
			t.Errorf("%s not allowed", n)
		}
	}
	if !strings.Contains(errs, "syscalls traced") {
		t.Errorf("no summary on stderr: %s", errs)
	}
	r := checkProfile(p, false)
	if len(r.Errors) > 0 || r.Instructions == 0 {
		t.Errorf("recorded profile does not validate: %v, %d instructions", r.Errors, r.Instructions)
	}

	// --format spo --output: a SeccompProfile YAML the loader reads back.
	yml := filepath.Join(dir, "my-app.yaml")
	code, out, errs = run(t, append([]string{"from-strace", "--format", "spo", "--output", yml}, files...)...)
	if code != 0 || out != "" {
		t.Fatalf("exit %d, stdout %q: %s", code, out, errs)
	}
	data, _ := os.ReadFile(yml)
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["apiVersion"] != "security-profiles-operator.x-k8s.io/v1" || doc["kind"] != "SeccompProfile" ||
		doc["metadata"].(map[string]any)["name"] != "my-app" {
		t.Errorf("SPO header: %s", data)
	}
	back, err := loadFile(yml, loadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if back.Format != FormatSPO || !slices.Equal(back.Seccomp.Syscalls[0].Names, p.Syscalls[0].Names) ||
		!slices.Equal(back.Seccomp.Architectures, p.Architectures) || back.Seccomp.DefaultAction != p.DefaultAction {
		t.Errorf("SPO round trip differs: %+v", back.Seccomp)
	}
	if code, _, errs := run(t, "from-strace", "--format", "spo", "--name", "Bad_Name", files[0]); code != 2 || !strings.Contains(errs, "Bad_Name") {
		t.Errorf("bad --name: exit %d %s", code, errs)
	}
}

// Names libseccomp does not know are reported and fail the command unless
// --allow-unknown.
func TestFromStraceUnknown(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "true.txt")
	straceRun(t, "-o", real, "/bin/true")
	fake := writeFile(t, "fake.txt", []byte("frobnicate(1) = 0\n[pid 3] frobnicate(2) = 0\n"))

	code, out, errs := run(t, "from-strace", real, fake)
	if code != 1 || out != "" {
		t.Errorf("exit %d, stdout %q; want 1 and no profile", code, out)
	}
	if !strings.Contains(errs, `unknown syscall "frobnicate" (2 calls)`) || !strings.Contains(errs, "--allow-unknown") {
		t.Errorf("stderr: %s", errs)
	}
	code, out, errs = run(t, "from-strace", "--allow-unknown", real, fake)
	if code != 0 {
		t.Fatalf("--allow-unknown: exit %d: %s", code, errs)
	}
	p := decodeProfile(t, out)
	if slices.Contains(p.Syscalls[0].Names, "frobnicate") || !slices.Contains(p.Syscalls[0].Names, "execve") {
		t.Errorf("profile names: %v", p.Syscalls[0].Names)
	}

	empty := writeFile(t, "empty.txt", []byte("+++ exited with 0 +++\n"))
	if code, _, errs := run(t, "from-strace", empty); code != 1 || !strings.Contains(errs, "no syscalls") {
		t.Errorf("empty trace: exit %d %s", code, errs)
	}
	if code, _, errs := run(t, "from-strace", filepath.Join(dir, "missing")); code != 1 || !strings.Contains(errs, "missing") {
		t.Errorf("missing file: exit %d %s", code, errs)
	}
}

// Every RuntimeBase name is one libseccomp knows (a typo would be dropped
// silently), and the thread rules follow what the trace allowed.
func TestRuntimeBase(t *testing.T) {
	for _, g := range RuntimeBase {
		if g.Why == "" {
			t.Error("a RuntimeBase group without a reason")
		}
		for _, n := range g.Names {
			if !knownName(n) {
				t.Errorf("RuntimeBase name %q (%s) is unknown to libseccomp %s", n, g.Why, libseccompVersion())
			}
		}
	}
	for _, n := range []string{"execve", "exit_group", "rt_sigreturn", "futex", "openat2", "capset", "pselect6"} {
		if !slices.Contains(runtimeBaseNames(), n) {
			t.Errorf("%s missing from the runtime base", n)
		}
	}
	rules := runtimeThreadRules(map[string]bool{})
	if len(rules) != 2 || rules[0].Names[0] != "clone" || len(rules[0].Args) != 1 || rules[1].Names[0] != "clone3" || *rules[1].ErrnoRet != 38 {
		t.Errorf("thread rules: %+v", rules)
	}
	if rules := runtimeThreadRules(map[string]bool{"clone": true, "clone3": true}); len(rules) != 0 {
		t.Errorf("clone traced: %+v", rules)
	}
}
